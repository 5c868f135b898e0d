// How idle OpenMP threads wait: libgomp's default (spin a while, then sleep) where the run adapts
// its thread count to the load, else asleep at once (OMP_WAIT_POLICY=PASSIVE); a value the user
// set is kept.
//
// libgomp's default spins a waiting thread for a while before it sleeps. On a machine whose cores
// other work also uses, the spinning threads take turns away from the threads doing the work.
// bench/wait_policy.sh (docs/results/wait-policy.md) measured, with one busy process beside
// `train --threads 2`: the mlp's 300 steps 1.71 s spinning (ACTIVE) and 0.77 s with PASSIVE,
// about one thread's 0.73 s under that load. On an idle machine PASSIVE costs some of the second
// thread's gain (0.67 s against 0.60 s); on an AMD EPYC more (docs/results/
// wait-policy-amd-epyc.md: the idle mlp 0.40 s with PASSIVE against 0.31 s spinning).
//
// So the commands that train (train, compare, gradnorms) keep libgomp's default and instead run
// on fewer threads while other processes keep the cores busy (--adapt-threads, on by default:
// train/thread_governor.hpp); the others, and those given `--adapt-threads off`, sleep at once.
//
// libgomp reads OMP_WAIT_POLICY once, when the program is loaded, before main runs, so setting it
// in main is too late: when it is unset and wanted, main sets it and starts the program again in
// the same process (execv of /proc/self/exe, same arguments, same process id, so mpirun and
// signals see no difference). Not under valgrind, whose tools would lose the program at the exec.
#pragma once

namespace normgrad::cli {

// Whether this command line adapts its thread count to the load: a training command (the first
// argument train, compare or gradnorms) not given `--adapt-threads off`.
bool adapts_threads(int argc, const char* const* argv);

// Returns only if the program need not (or cannot) start again; call first thing in main.
void choose_wait_policy(int argc, char** argv);

}  // namespace normgrad::cli
