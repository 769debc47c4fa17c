// Pins the shared library this is compiled into, for both addons.
#pragma once

#include <dlfcn.h>

namespace {

// Node unloads an addon with the last environment that loaded it (a Worker's, when the main thread
// never did), while code of ours may still run: the loop's close callbacks of our handles, the
// park addon's tasks on V8's threads and its fork handler. Pinning the library keeps them mapped.
inline void KeepLoaded() {
  Dl_info self;
  if (dladdr(reinterpret_cast<void*>(&KeepLoaded), &self) != 0 && self.dli_fname != nullptr)
    dlopen(self.dli_fname, RTLD_NOW | RTLD_NOLOAD | RTLD_NODELETE);
}

}  // namespace
