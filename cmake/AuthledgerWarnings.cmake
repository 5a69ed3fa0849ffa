# Strict warnings, attached PRIVATE to each of our targets. Errors are opt-in
# (AUTHLEDGER_WERROR, on in the `dev` preset), as in fmt's build.
option(AUTHLEDGER_WERROR "Treat compiler warnings as errors" OFF)

function(authledger_warnings target)
  target_compile_options(${target} PRIVATE
    -Wall -Wextra -Wpedantic -Wshadow -Wnon-virtual-dtor -Wold-style-cast
    -Wcast-align -Wunused -Woverloaded-virtual -Wnull-dereference
    -Wimplicit-fallthrough)
  if(AUTHLEDGER_WERROR)
    target_compile_options(${target} PRIVATE -Werror)
  endif()
endfunction()
