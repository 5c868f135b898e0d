# Defines the imported target normgrad::openblas, the OpenBLAS library normgrad's GEMM calls,
# unless it exists already. Used by normgrad's own build (CMakeLists.txt, which also finds the
# CBLAS header) and by the installed normgradConfig.cmake: normgrad::core is a static library,
# so a program linking it links OpenBLAS too, though none of normgrad's headers includes
# OpenBLAS's. Debian's libopenblas-dev: libopenblas.so, the variant chosen by update-alternatives.
if(NOT TARGET normgrad::openblas)
  find_library(NORMGRAD_OPENBLAS_LIBRARY NAMES openblas
               DOC "The OpenBLAS library that normgrad::core links")
  if(NORMGRAD_OPENBLAS_LIBRARY)
    add_library(normgrad::openblas UNKNOWN IMPORTED)
    set_target_properties(normgrad::openblas PROPERTIES
                          IMPORTED_LOCATION "${NORMGRAD_OPENBLAS_LIBRARY}")
  endif()
endif()
