// fork(2) of a running Node.js process (thread audit, MADV_DOFORK pass, uv_loop_fork), _exit, and
// reaping children through waitpid and a sentinel fd the event loop can watch; posix_spawn of fresh
// children; the loop-emptiness watch of a fork child.
#pragma once
#include <napi.h>

namespace mp {
void InitFork(Napi::Env env, Napi::Object exports);
}
