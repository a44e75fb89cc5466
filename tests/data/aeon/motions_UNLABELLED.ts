@problemName motions
@timestamps false
@missing False
@univariate false
@dimension 3
@equalLength true
@seriesLength 5
@targetlabel false
@data
0.0,0.25,0.5,0.75,1.0:0.5,0.75,1.0,1.25,1.5:1.0,1.25,1.5,1.75,2.0:
1.0,1.25,1.5,1.75,2.0:1.5,1.75,2.0,2.25,2.5:2.0,2.25,2.5,2.75,3.0:
2.0,2.25,2.5,2.75,3.0:2.5,2.75,3.0,3.25,3.5:3.0,3.25,3.5,3.75,4.0:
