# two channels, unequal lengths
@problemName strokes
@timestamps false
@missing False
@univariate false
@dimension 2
@equalLength false
@classLabel true run walk
@data
0.0,0.25,0.5,0.75,1.0:0.5,0.75,1.0,1.25,1.5:walk
1.0,1.25,1.5:1.5,1.75,2.0:run
2.0,2.25,2.5,2.75:2.5,2.75,3.0,3.25:walk
3.0,3.25,3.5,3.75,4.0:3.5,3.75,4.0,4.25,4.5:run
4.0,4.25:4.5,4.75:walk
5.0,5.25,5.5,5.75:5.5,5.75,6.0,6.25:run
