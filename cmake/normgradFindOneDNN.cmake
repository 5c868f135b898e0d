# Defines the imported target normgrad::onednn, the oneDNN library whose sgemm normgrad's GEMM
# calls on processors with AVX-512 (src/kernels/gemm.cpp), unless it exists already. Found by
# library and header rather than by oneDNN's own package file, which asks for OpenCL's
# development files that normgrad does not use. Debian: libdnnl-dev. Used by normgrad's build
# and by the installed normgradConfig.cmake (normgrad::core is static, so a program links it).
if(NOT TARGET normgrad::onednn)
  find_library(NORMGRAD_ONEDNN_LIBRARY NAMES dnnl DOC "The oneDNN library that normgrad::core links")
  find_path(NORMGRAD_ONEDNN_INCLUDE_DIR oneapi/dnnl/dnnl.h DOC "oneDNN's headers")
  if(NORMGRAD_ONEDNN_LIBRARY AND NORMGRAD_ONEDNN_INCLUDE_DIR)
    add_library(normgrad::onednn UNKNOWN IMPORTED)
    set_target_properties(normgrad::onednn PROPERTIES
                          IMPORTED_LOCATION "${NORMGRAD_ONEDNN_LIBRARY}"
                          INTERFACE_INCLUDE_DIRECTORIES "${NORMGRAD_ONEDNN_INCLUDE_DIR}")
  endif()
endif()
