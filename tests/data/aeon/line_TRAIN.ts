@problemName line
@timestamps false
@missing False
@univariate true
@equalLength true
@seriesLength 5
@classLabel true run walk
@data
0.0,0.25,0.5,0.75,1.0:walk
1.0,1.25,1.5,1.75,2.0:run
2.0,2.25,2.5,2.75,3.0:walk
3.0,3.25,3.5,3.75,4.0:run
4.0,4.25,4.5,4.75,5.0:walk
5.0,5.25,5.5,5.75,6.0:run
