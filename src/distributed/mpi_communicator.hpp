// MPI's communicator (mpi_communicator.cpp, compiled only with NORMGRAD_MPI): for world.cpp.
#pragma once

#include <memory>

#include "normgrad/communicator.hpp"

namespace normgrad::distributed {

// MPI_Init_thread (funneled: only the thread that runs the model calls MPI) and MPI_COMM_WORLD.
std::shared_ptr<const Communicator> start_mpi(int* argc, char*** argv);
// MPI_Finalize.
void stop_mpi();

}  // namespace normgrad::distributed
