# Turns a file into a C header holding its bytes, NUL-terminated:
#   cmake -DIN=file -DOUT=header.h -DNAME=c_identifier -P embed.cmake
# Run at build time by a custom command that depends on IN, so an edit to IN
# rebuilds what includes OUT.
file(READ "${IN}" hex HEX)
string(REGEX REPLACE "([0-9a-f][0-9a-f])" "0x\\1," bytes "${hex}")
# 16 bytes a line (CMake's regex has no {n})
string(REPEAT "0x[0-9a-f][0-9a-f]," 16 line)
string(REGEX REPLACE "(${line})" "\\1\n\t" bytes "${bytes}")
get_filename_component(src "${IN}" NAME)
file(WRITE "${OUT}" "/* Generated from ${src} by cmake/embed.cmake: do not edit. */\n"
  "static const char ${NAME}[] = {\n\t${bytes}0x00};\n")
