# Deployment pieces: the hook description built into the CLI (for
# `volshift install`), the fully static CLI (VS_STATIC, for the FROM-scratch
# image), and the Debian package (cpack -G DEB). Included at the end of
# CMakeLists.txt, after install.cmake.

# hooks/volshift.json, embedded as vs_hook_json[] in gen/hook_json.h and
# regenerated whenever the file changes, so `volshift install` writes what the
# repository says today.
set(VS_GEN_INCLUDE ${CMAKE_BINARY_DIR}/gen)
file(MAKE_DIRECTORY ${VS_GEN_INCLUDE})
add_custom_command(OUTPUT ${VS_GEN_INCLUDE}/hook_json.h
  COMMAND ${CMAKE_COMMAND} -DIN=${CMAKE_SOURCE_DIR}/hooks/volshift.json
          -DOUT=${VS_GEN_INCLUDE}/hook_json.h -DNAME=vs_hook_json
          -P ${CMAKE_SOURCE_DIR}/cmake/embed.cmake
  DEPENDS ${CMAKE_SOURCE_DIR}/hooks/volshift.json ${CMAKE_SOURCE_DIR}/cmake/embed.cmake
  COMMENT "Embedding hooks/volshift.json")
target_sources(volshift_cli PRIVATE ${VS_GEN_INCLUDE}/hook_json.h)
target_include_directories(volshift_cli PRIVATE ${VS_GEN_INCLUDE})

# VS_STATIC: every library the CLI links is found as its .a (see the option in
# CMakeLists.txt) and glibc is linked statically too. Build only the CLI in
# such a tree (`--target volshift_cli`): the shared library cannot be made
# from non-PIC archives.
if(VS_STATIC)
  target_link_options(volshift_cli PRIVATE -static)
endif()
