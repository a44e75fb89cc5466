"""music21 scores ↔ pieces (see events.py): reading files, building and writing scores."""

from __future__ import annotations

import bisect
import math
from pathlib import Path

MUSIC_SUFFIXES = (".mid", ".midi", ".mxl", ".musicxml", ".xml", ".abc", ".krn")
WRITERS = {"midi": ("midi", ".mid"), "musicxml": ("musicxml", ".musicxml")}
# What one file may hold. music21 lays a piece out bar by bar, and some of its steps grow faster than the piece
# (a tiny MIDI file holding one very long note takes minutes to read): beyond these a file is refused
# in one line. 10,000 quarter notes is 83 minutes at 120 a minute; 30,000 notes are read in about 30 s.
MAX_QUARTERS = 10_000
MAX_NOTES = 30_000
MAX_SIGNATURE_CHANGES = 2_500  # a time or key signature change in every bar of the longest piece


class TooLarge(ValueError):
    """A file beyond what seqgen reads (MAX_QUARTERS, MAX_NOTES, MAX_SIGNATURE_CHANGES); its message says which."""


def _check_span(quarters: float, notes: int) -> None:
    if quarters > MAX_QUARTERS:
        raise TooLarge(f"lasts {quarters:,.0f} quarter notes, more than the {MAX_QUARTERS:,} seqgen reads from one file; "
                       "a note or rest that long means a damaged file, else split the piece")
    if notes > MAX_NOTES:
        raise TooLarge(f"holds {notes:,} notes, more than the {MAX_NOTES:,} seqgen reads from one file; split the piece")


def _bars(reference, grid: int) -> tuple[list[float], list[tuple[int, int]], float]:
    """Bar offsets and time signatures from the first part's measures, and the pickup shift."""
    from music21 import meter, stream

    measures = list(reference.getElementsByClass(stream.Measure))
    offsets, signatures = [], []
    signature = (4, 4)
    for measure in measures:
        found = measure.timeSignature or next(iter(measure.getElementsByClass(meter.TimeSignature)), None)
        if found is not None:
            signature = (found.numerator, found.denominator)
        offsets.append(float(measure.offset))
        signatures.append(signature)
    if not offsets:
        return [0.0], [(4, 4)], 0.0
    first_length = (offsets[1] - offsets[0]) if len(offsets) > 1 else measures[0].duration.quarterLength
    full = signatures[0][0] * 4 / signatures[0][1]
    pickup = full - first_length if 0 < first_length < full else 0.0
    return offsets, signatures, pickup


def score_to_piece(score, name: str, grid: int, max_bar: int) -> tuple[dict | None, str | None]:
    """(piece, None), or (None, why the score gives no usable notes)."""
    from music21 import instrument, key, stream, tempo

    parts = list(score.parts) if hasattr(score, "parts") and len(score.parts) else [score]
    if not any(p.getElementsByClass(stream.Measure) for p in parts):
        parts = [p.makeMeasures() for p in parts]
    offsets, signatures, pickup = _bars(parts[0], grid)
    notes, unpitched = [], 0
    part_index = 0
    for part in parts:
        player = part.getInstrument(returnDefault=False)
        drums = isinstance(player, instrument.UnpitchedPercussion) or getattr(player, "midiChannel", None) == 9
        found = False
        for offset, length, number in _sounding(part, drums):
            if number is None:
                unpitched += 1
                continue
            if length <= 0:  # grace notes take no time on the grid
                continue
            bar = max(0, bisect.bisect_right(offsets, offset + 1e-6) - 1)
            shift = pickup if bar == 0 else 0.0
            pos = int(round((offset - offsets[bar] + shift) * grid))
            if not 0 <= pos < max_bar * grid:
                continue
            if not 0 <= number <= 127:  # beyond MIDI: no token, and no file could hold it
                continue
            notes.append([bar, pos, part_index, number, max(1, int(round(length * grid)))])
            found = True
        part_index += found
    if not notes:
        return None, "drums only" if unpitched else "empty (no notes)"
    changes = [[0, *signatures[0]]] + [[b, *s] for b, s in enumerate(signatures) if b and s != signatures[b - 1]]
    signature = next(iter(score.recurse().getElementsByClass(key.KeySignature)), None)
    mark = next(iter(score.recurse().getElementsByClass(tempo.MetronomeMark)), None)
    bpm = mark.getQuarterBPM() if mark is not None else None
    return {
        "name": name,
        "notes": sorted(notes),
        "time_signatures": changes,
        "key_sharps": None if signature is None else int(signature.sharps),
        "tempo": float(bpm) if bpm and math.isfinite(float(bpm)) and float(bpm) > 0 else None,
    }, None


def _sounding(part, drums: bool):
    """(offset, length, MIDI pitch) of every pitch a part sounds, in order, a note tied over bar lines joined into
    one; (offset, length, None) for each unpitched note (drums). music21's stripTies does the joining in time that
    grows with the square of the notes (minutes for a long piece); this goes through them once."""
    from music21 import chord, note, percussion

    held: dict = {}  # pitch → the [offset, length, pitch] a tie carries on
    for element in part.flatten().notes:
        offset, length = float(element.offset), float(element.quarterLength)
        if drums or isinstance(element, (note.Unpitched, percussion.PercussionChord)):
            yield offset, length, None
            continue
        members = element.notes if isinstance(element, chord.Chord) else [element]
        for member in members:
            number = int(member.pitch.midi)
            tie = member.tie if member.tie is not None else getattr(element, "tie", None)
            kind = tie.type if tie is not None else None
            carried = held.pop(number, None)
            if kind in ("continue", "stop") and carried is not None and abs(carried[0] + carried[1] - offset) < 1e-6:
                carried[1] += length
                if kind == "continue":
                    held[number] = carried
                else:
                    yield tuple(carried)
                continue
            if carried is not None:
                yield tuple(carried)
            sounding = [offset, length, number]
            if kind in ("start", "continue"):
                held[number] = sounding  # given out when its tie ends, or the next note of that pitch comes
            else:
                yield tuple(sounding)
    for carried in held.values():
        yield tuple(carried)


def parse_score(path) -> "object":
    """A music21 stream parsed from the file itself, never from (or into) music21's pickle cache.

    music21's defaults write a pickle per parsed file under a predictable name in its scratch folder
    (the system temp dir) and load it with pickle when it is newer than the source, so a pickle
    planted there would run code. `forceSource` stops the read, `storePickle` the write; `parseFile`
    (not `parse`) also never reads a path's text as data or a URL.
    """
    from music21 import converter

    if Path(path).suffix.lower() in (".mid", ".midi"):
        return _midi_score(path)
    return converter.parseFile(str(path), forceSource=True, storePickle=False)


def _midi_score(path):
    """A MIDI file read as music21 reads it, its length and notes checked first, and only the events seqgen uses
    handed on: every note and channel message, time and key signatures (one per moment), the first tempo, a
    track's first name. Tempo changes, text, lyrics, markers and system-exclusive data change nothing seqgen
    reads, and thousands of them made music21 take minutes."""
    from music21 import midi
    from music21.midi import translate

    song = midi.MidiFile()
    song.open(str(path))
    try:
        song.read()
    finally:
        song.close()
    per_quarter = song.ticksPerQuarterNote
    if not song.tracks or not per_quarter or per_quarter <= 0:  # no tracks, or SMPTE time: music21 says why
        return translate.midiFileToStream(song)
    meta, signatures = midi.MetaEvents, (midi.MetaEvents.TIME_SIGNATURE, midi.MetaEvents.KEY_SIGNATURE)
    notes, changes, last, tempo_seen = 0, 0, 0, False
    for track in song.tracks:
        kept: dict = {}  # (tick, what) → event, in order: a later signature at the same moment replaces the earlier
        names = set()
        for tick, event in translate.getTimeForEvents(track):
            kind = event.type
            if isinstance(kind, meta):
                if kind == meta.SET_TEMPO:
                    if tempo_seen:
                        continue
                    tempo_seen = True
                elif kind in signatures:
                    key = (tick, kind)
                    changes += key not in kept
                    kept.pop(key, None)
                    kept[key] = event
                    last = max(last, tick)
                    continue
                elif kind in (meta.SEQUENCE_TRACK_NAME, meta.INSTRUMENT_NAME):
                    if kind in names:
                        continue
                    names.add(kind)
                else:
                    continue  # end of track (put back below), text, lyrics, markers, ports, ...
            elif isinstance(kind, midi.SysExEvents):
                continue
            elif kind == midi.ChannelVoiceMessages.NOTE_ON and event.velocity:
                notes += 1
            kept[(tick, len(kept), id(event))] = event
            last = max(last, tick)
        events, now = [], 0
        for (tick, *_), event in kept.items():
            events += [midi.DeltaTime(track, time=tick - now), event]
            now = tick
        end = midi.MidiEvent(track, type=meta.END_OF_TRACK)
        end.data = b""
        track.events = events + [midi.DeltaTime(track, time=0), end]
    _check_span(last / per_quarter, notes)
    if changes > MAX_SIGNATURE_CHANGES:
        raise TooLarge(f"changes time or key signature {changes:,} times, more than the {MAX_SIGNATURE_CHANGES:,} "
                       "seqgen reads from one file")
    return translate.midiFileToStream(song)


def parse_file(path: str, grid: int, max_bar: int) -> tuple[list[dict], str | None]:
    """All pieces of one file (an ABC file may hold many tunes), or the reason it has none."""
    import warnings

    from music21 import stream

    if Path(path).suffix.lower() not in MUSIC_SUFFIXES:  # music21 would also guess at text, pickles, folders
        return [], f"not a music file seqgen reads ({', '.join(MUSIC_SUFFIXES)})"
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            parsed = parse_score(path)
    except TooLarge as error:
        return [], str(error)
    except Exception as error:  # music21 raises many kinds on broken files
        first = (str(error).splitlines() or [type(error).__name__])[0][:120]
        return [], f"could not be parsed: {first or type(error).__name__}"
    scores = list(parsed.scores) if isinstance(parsed, stream.Opus) else [parsed]
    pieces, reasons = [], []
    for index, score in enumerate(scores):
        name = Path(path).name + (f"#{index + 1}" if len(scores) > 1 else "")
        try:
            _check_span(float(score.highestTime), 0)
            piece, reason = score_to_piece(score, name, grid, max_bar)
        except TooLarge as error:
            piece, reason = None, str(error)
        except Exception as error:
            piece, reason = None, f"could not be read: {type(error).__name__}"
        if piece is not None:
            pieces.append(piece)
        else:
            reasons.append(reason)
    return pieces, None if pieces else (reasons[0] if reasons else "empty (no notes)")


def piece_to_score(piece: dict, grid: int):
    """A music21 Score with one part per part index; notes sharing part, onset and length form chords."""
    from music21 import chord, duration, instrument, key, meter, note, pitch, stream, tempo

    from seqgen.music.events import bar_starts, note_times, piece_end

    score = stream.Score()
    times = note_times(piece, grid)
    groups: dict[tuple, list[int]] = {}
    for offset, length, part, number in times:
        groups.setdefault((part, offset, length), []).append(number)
    signatures = {b: (n, d) for b, n, d in piece.get("time_signatures", [])} or {0: (4, 4)}
    bars = max(max([n[0] for n in piece["notes"]] + [0]) + 1, piece.get("bars") or 0)
    bar_offsets = dict(enumerate(bar_starts(piece, bars)[:-1]))
    end = piece_end(piece, grid)
    for part_index in sorted({g[0] for g in groups}) or [0]:
        part = stream.Part(id=f"part{part_index + 1}")
        part.partName = f"Part {part_index + 1}"
        part.insert(0, instrument.Piano())
        for bar, (n, d) in sorted(signatures.items()):
            if bar in bar_offsets:  # a change after the last note has no bar to stand in (not at offset 0)
                part.insert(bar_offsets[bar], meter.TimeSignature(f"{n}/{d}"))
        if piece.get("key_sharps") is not None:
            part.insert(0, key.KeySignature(piece["key_sharps"]))
        if piece.get("tempo") and part_index == min(g[0] for g in groups):
            part.insert(0, tempo.MetronomeMark(number=piece["tempo"]))
        for (group_part, offset, length), pitches in sorted(groups.items()):
            if group_part != part_index:
                continue
            # Pitch(midi=…): a bare int under 12 is read by music21 as a pitch class in octave 4 (0 → C4, 60)
            notes = [pitch.Pitch(midi=p) for p in sorted(set(pitches))]
            element = note.Note(notes[0]) if len(notes) == 1 else chord.Chord(notes)
            element.duration = duration.Duration(length)
            part.insert(offset, element)
        last = max((offset + length for g, offset, length in groups if g == part_index), default=0.0)
        if end - last > 1e-9:  # the piece's silent last bars (or frames) are part of it: a rest to its end
            part.insert(last, note.Rest(quarterLength=end - last))
        score.insert(0, part)
    return score


def write_piece(piece: dict, path: Path, fmt: str, grid: int, atomic: bool = True) -> Path:
    """Write the piece as MIDI or MusicXML; written whole or not at all (through a temporary beside it, see
    seqgen.files), or straight to `path` with atomic=False (a file in a temporary folder of the caller's, who
    gets the OSError of a failed write)."""
    import contextlib
    import os

    from seqgen.errors import SeqgenError
    from seqgen.files import staged
    from seqgen.music.events import piece_end

    if fmt not in WRITERS:
        raise SeqgenError(f"music21 cannot write {fmt!r} files; use --format midi or musicxml")
    score = piece_to_score(piece, grid)
    path = Path(path)
    try:
        with staged(path, "; choose a writable --output") if atomic else contextlib.nullcontext(path) as target:
            if fmt == "midi":
                _write_midi(score, target, piece_end(piece, grid))
            else:
                written = score.write(WRITERS[fmt][0], fp=str(target))
                if written is not None and Path(written) != target:  # music21 chose another name: it becomes the file
                    os.replace(written, target)
    except (SeqgenError, OSError):  # an OSError only where atomic=False: the caller's file, the caller's line
        raise
    except Exception as error:
        first = (str(error).splitlines() or [""])[0][:200]
        raise SeqgenError(f"music21 could not write {path}: {type(error).__name__}: {first}") from None
    return path


def _write_midi(score, path: Path, end: float) -> None:
    """The score as a MIDI file whose tracks end where the piece ends (`end`, in quarter notes): music21 ends a
    track a quarter note after its last event, so a piece's silent last bars would be lost, and a piece of
    8 bars would last 8 bars and a quarter."""
    from music21.midi import translate

    midi = translate.streamToMidiFile(score)
    ticks = int(round(end * midi.ticksPerQuarterNote))
    for track in midi.tracks:
        deltas = [event for event in track.events if event.isDeltaTime()]
        if deltas:  # the last is the wait before END_OF_TRACK, the track's last event
            before = sum(delta.time for delta in deltas[:-1])
            deltas[-1].time = max(0, ticks - before)
    midi.open(str(path), "wb")
    try:
        midi.write()
    finally:
        midi.close()
