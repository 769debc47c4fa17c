// Registers the native pieces of multiprocess; each lives in the file named after its kernel concept.
#include <napi.h>

#include "bell.h"
#include "condition.h"
#include "fork.h"
#include "keep_loaded.h"
#include "memfd.h"
#include "resource_tracker.h"
#include "ring.h"
#include "semlock.h"
#include "shm.h"
#include "spin.h"
#include "system.h"
#include "unix_socket.h"
#include "wait.h"

static Napi::Object Init(Napi::Env env, Napi::Object exports) {
  KeepLoaded();
  exports.Set("Segment", mp::Segment::Init(env));
  mp::InitSemLock(env, exports);
  mp::InitWait(env, exports);
  mp::InitBell(env, exports);
  mp::InitCondition(env, exports);
  mp::InitSystem(env, exports);
  mp::InitUnixSocket(env, exports);
  mp::InitMemfd(env, exports);
  mp::InitFork(env, exports);
  mp::InitRing(env, exports);
  mp::InitResourceTracker(env, exports);
  mp::InitSpin(env, exports);
  return exports;
}

NODE_API_MODULE(multiprocess, Init)
