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

# The Debian package: `cpack -G DEB` in a build tree. It holds what
# `cmake --install` puts under /usr: the binary, libvolshift.so and .a,
# volshift.h, volshift.pc, the man pages and
# share/containers/oci/hooks.d/volshift.json (install.cmake writes the last
# two at install time, with the /usr paths). Depends are computed from what the
# binaries link (dpkg-shlibdeps), so they follow the build.
set(CPACK_PACKAGE_NAME volshift)
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_VENDOR volshift)
set(CPACK_PACKAGE_CONTACT "volshift maintainers <volshift@localhost>")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY
  "fix volume file ownership for user-namespaced containers")
set(CPACK_PACKAGE_DESCRIPTION
  "volshift gives a volume to a pod's user namespace: an idmapped mount where the
filesystem supports one, otherwise a parallel, crash-safe, symlink-safe
ownership rewrite (fsgroup and ID shift) that keeps ACLs, file capabilities
and setuid bits right. Includes the OCI hook for CRI-O and Podman and the
libvolshift C library.")
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SECTION admin)
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
# shlibs for libvolshift.so.0, and the ldconfig trigger that goes with it
set(CPACK_DEBIAN_PACKAGE_GENERATE_SHLIBS ON)
set(CPACK_DEBIAN_PACKAGE_GENERATE_SHLIBS_POLICY ">=")
include(CPack)
