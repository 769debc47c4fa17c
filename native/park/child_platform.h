// The V8 platform of a fork child: worker tasks and jobs run on threads the child starts when it
// first needs them. A fork child has none of its parent's platform threads, so without it
// concurrent TurboFan jobs queued there never ran and hot code stayed in the baseline tier (4–9×
// slower). V8 11 (Node 20) gets a platform of its own, over Node's; from V8 12 (Node 22, 24), whose
// TurboFan dispatcher and jobs hold Node's platform since the isolate was made, the worker-task
// entries of that platform's vtable are redirected. Built per Node ABI with park.cc.
#pragma once
#include <v8-platform.h>

namespace mp {

// In a fork child, before any JavaScript: makes a platform with up to `max_threads` worker
// threads over `node` V8's platform (a parent's, copied with the process, is abandoned).
void InstallChildPlatform(v8::Platform* node, int max_threads);
// Before a fork of this child: true once no thread of the child platform runs a task (none holds
// a V8 lock), false when one did not finish in time. ResumeChildPlatform() lets them go on.
bool PauseChildPlatform(double timeout_ms);
void ResumeChildPlatform();
// Threads the child platform started so far (the fork thread audit counts them).
int ChildPlatformThreads();

}  // namespace mp
