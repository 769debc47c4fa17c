// Registers the native pieces of multiprocess; each lives in the file named after its kernel concept.
#include <dlfcn.h>
#include <napi.h>

#include "bell.h"
#include "condition.h"
#include "fork.h"
#include "resource_tracker.h"
#include "ring.h"
#include "semlock.h"
#include "shm.h"
#include "system.h"
#include "unix_socket.h"
#include "wait.h"

// Node unloads an addon with the last environment that loaded it (a Worker's, when the main thread
// never did), before that Worker's loop runs the close callbacks of our handles, which live here:
// the loop then jumps into unmapped code. Pinning the library keeps them mapped.
static void KeepLoaded() {
  Dl_info self;
  if (dladdr(reinterpret_cast<void*>(&KeepLoaded), &self) != 0 && self.dli_fname != nullptr)
    dlopen(self.dli_fname, RTLD_NOW | RTLD_NOLOAD | RTLD_NODELETE);
}

static Napi::Object Init(Napi::Env env, Napi::Object exports) {
  KeepLoaded();
  exports.Set("Segment", mp::Segment::Init(env));
  mp::InitSemLock(env, exports);
  mp::InitWait(env, exports);
  mp::InitBell(env, exports);
  mp::InitCondition(env, exports);
  mp::InitSystem(env, exports);
  mp::InitUnixSocket(env, exports);
  mp::InitFork(env, exports);
  mp::InitRing(env, exports);
  mp::InitResourceTracker(env, exports);
  return exports;
}

NODE_API_MODULE(multiprocess, Init)
