# Deployment pieces: the hook description built into the CLI (for
# `volshift install`). Included at the end of CMakeLists.txt, after
# install.cmake.

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
