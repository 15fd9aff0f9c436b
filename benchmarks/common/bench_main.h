#pragma once
// The main() every benchmark program shares (benchmarks/common/bench_main.cpp). A program
// registers its benchmarks in register_benchmarks(), which runs inside main, after static
// initialization, so thread counts and sizes can be read from the library.
void register_benchmarks();
