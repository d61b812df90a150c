# Install rules for embedders and runtimes, beyond the binary, the libraries
# and volshift.h: the pkg-config file, the man pages, and the hook description
# that CRI-O and Podman read from hooks.d. Included from CMakeLists.txt after
# its install(TARGETS ...) lines.
include(GNUInstallDirs)

install(FILES ${CMAKE_SOURCE_DIR}/man/volshift.1 DESTINATION ${CMAKE_INSTALL_MANDIR}/man1)
install(FILES ${CMAKE_SOURCE_DIR}/man/volshift.3 DESTINATION ${CMAKE_INSTALL_MANDIR}/man3)

# volshift.pc and hooks.d/volshift.json hold absolute paths under the prefix,
# which `cmake --install --prefix DIR` may change after configuring: they are
# written when installing, from the prefix the install runs with.
set(VS_GEN_DIR ${CMAKE_BINARY_DIR}/install-gen)
install(CODE "
  set(VS_SOURCE_DIR \"${CMAKE_SOURCE_DIR}\")
  set(VS_GEN_DIR \"${VS_GEN_DIR}\")
  set(VS_LIBDIR \"${CMAKE_INSTALL_LIBDIR}\")
  set(VS_INCLUDEDIR \"${CMAKE_INSTALL_INCLUDEDIR}\")
  set(VS_BINDIR \"${CMAKE_INSTALL_BINDIR}\")
  set(PROJECT_VERSION \"${PROJECT_VERSION}\")
")
install(CODE [[
  function(vs_abs ret dir)
    if(IS_ABSOLUTE "${dir}")
      set(${ret} "${dir}" PARENT_SCOPE)
    else()
      set(${ret} "${CMAKE_INSTALL_PREFIX}/${dir}" PARENT_SCOPE)
    endif()
  endfunction()
  set(VS_PC_PREFIX "${CMAKE_INSTALL_PREFIX}")
  vs_abs(VS_PC_LIBDIR "${VS_LIBDIR}")
  vs_abs(VS_PC_INCLUDEDIR "${VS_INCLUDEDIR}")
  vs_abs(vs_bindir "${VS_BINDIR}")
  file(MAKE_DIRECTORY "${VS_GEN_DIR}")
  configure_file("${VS_SOURCE_DIR}/volshift.pc.in" "${VS_GEN_DIR}/volshift.pc" @ONLY)
  file(READ "${VS_SOURCE_DIR}/hooks/volshift.json" vs_hook)
  string(REPLACE "/usr/local/bin/volshift" "${vs_bindir}/volshift" vs_hook "${vs_hook}")
  file(WRITE "${VS_GEN_DIR}/volshift.json" "${vs_hook}")
  # `man vs_run` and the like: one-line pages that source volshift(3)
  file(REMOVE_RECURSE "${VS_GEN_DIR}/man3")
  foreach(fn vs_job_init vs_job_validate vs_run vs_run_at vs_report_free vs_report_json
             vs_mode_name vs_policy_name vs_policy_parse vs_parse_u32
             vs_idmap_parse_range vs_idmap_add vs_idmap_validate vs_idmap_parse_text
             vs_idmap_from_pid vs_idmap_map vs_idmap_in_to vs_idmap_reverse
             vs_mount_job_init vs_idmap_supported vs_mount libvolshift)
    file(WRITE "${VS_GEN_DIR}/man3/${fn}.3" ".so man3/volshift.3\n")
  endforeach()
]])
install(DIRECTORY ${VS_GEN_DIR}/man3/ DESTINATION ${CMAKE_INSTALL_MANDIR}/man3)
install(FILES ${VS_GEN_DIR}/volshift.pc DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig)
install(FILES ${VS_GEN_DIR}/volshift.json
  DESTINATION ${CMAKE_INSTALL_DATADIR}/containers/oci/hooks.d)
