// Loaded ahead of OpenBLAS (LD_PRELOAD), this openblas_get_corename says "Prescott" whatever core
// OpenBLAS runs: a BLAS on which OPENBLAS_CORETYPE does not take, for the check that a program runs
// itself again once at most (test_blas_core_cli.cpp). OpenBLAS's kernels are unchanged.

extern "C" const char* openblas_get_corename() { return "Prescott"; }
