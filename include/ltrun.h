/*
 * ltrun.h - the ABI between ltrun and model shared objects.
 *
 * A model .so is built with `cc -shared -fPIC $(pkg-config --cflags ltrun)`.
 * This version of ltrun fixes only the ABI's version number; the model
 * entry points of DESIGN.md (trainer mode's lt_module_v1(), fabric mode's
 * lt_main()) are not built in this version, and ltrun refuses to start
 * ranks (`ltrun --dry-run` shows the plan instead).
 */
#ifndef LTRUN_H
#define LTRUN_H

/* Bumped whenever this header changes in a way a built model would notice;
 * ltrun refuses a model built for another version, naming both. */
#define LT_ABI_VERSION 1

#endif /* LTRUN_H */
