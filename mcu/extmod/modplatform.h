// py/modsys.c includes this header from extmod/, which the sdist lacks; this port
// has no `platform` module, so nothing is needed from it.
