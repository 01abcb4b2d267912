module corun/benchgo

go 1.19
