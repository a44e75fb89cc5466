"""`seqgen serve`: a local web page over the Python API for every task. It trains (each run in a process of
its own), lists the runs of an output folder, tries a model (text streamed as it is drawn, music seen, heard and
downloaded, a sentence's translation with its attention, a series continued with its band, a file's class
probabilities) and shows the gates
of `seqgen inspect`. It knows the tasks only through seqgen.tasks: their options, and their present.py
(STUDIO_TRAIN, studio_form, studio_try, studio_stream), name what the page offers.

    library.py   the output folder: its runs, their files, uploads; every path the page names is checked here
    jobs.py      training processes: start, progress, stop (latest.pt saved, as Ctrl-C does), resume
    app.py       the Starlette application: the page, the JSON API, the guard every request passes
    static/      the page, its script and its style: everything the browser loads
"""

# What a task's studio_form may ask the page to draw (its "view").
VIEWS = ("stream", "music", "translation", "band", "probabilities")
