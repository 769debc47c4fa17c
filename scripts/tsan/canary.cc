// scripts/tsan.sh's proof that its setup sees races: an instrumented library whose constructor
// races two threads on one plain int, loaded into node as the addon is. A run that reports nothing
// here would make the addon's clean run meaningless. (The race is between two new threads: TSan
// ignores the loading thread's own accesses while dlopen runs constructors.)
#include <thread>

namespace {
int shared_count = 0;

__attribute__((constructor)) void Race() {
  std::thread first([] { shared_count++; });
  std::thread second([] { shared_count++; });
  first.join();
  second.join();
}
}  // namespace
