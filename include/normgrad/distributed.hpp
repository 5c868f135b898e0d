// The communicator of this process (communicator.hpp), set up once at the start of a program.
//
// init_world() starts MPI when normgrad was built with it (the CMake option NORMGRAD_MPI) and the
// program was started by an MPI launcher (mpirun, srun with PMIx: they set OMPI_COMM_WORLD_SIZE,
// PMI_SIZE or PMIX_RANK); run directly, the program is one process and never starts MPI, which
// keeps a plain run and the tests free of MPI's start-up. Until then, and without MPI, world()
// is a LocalCommunicator.
#pragma once

#include <memory>
#include <string>

#include "normgrad/communicator.hpp"

namespace normgrad {

// Whether this build can run on several processes (NORMGRAD_MPI).
bool built_with_mpi();

// Whether an MPI launcher started this process, and with how many ranks (0: not launched).
int launched_ranks();

// Starts MPI as above and makes world() its communicator. Throws std::runtime_error when the
// launcher started several ranks but this build has no MPI (each would train alone). Call once.
void init_world(int* argc, char*** argv);
// Ends MPI (MPI_Finalize) if init_world started it; world() is a LocalCommunicator again.
void finalize_world();
const std::shared_ptr<const Communicator>& world();

// Checks that every rank runs the same program with the same arguments: `fingerprint` (the
// version, how it was built and the arguments, see program_fingerprint) is gathered from every
// rank; when they differ, throws std::invalid_argument naming the ranks that differ from rank 0
// and what differs. Collective.
void check_same_program(const Communicator& comm, const std::string& fingerprint);

// "normgrad VERSION (built DATE TIME) args-hash HEX (N arguments)": what check_same_program
// compares. args are argv[1..argc-1].
std::string program_fingerprint(int argc, const char* const* argv);

}  // namespace normgrad
