/*
 * mpi_barrier.c - bench/launch's Open MPI peer of examples/models/hello.c:
 * each rank joins the job (MPI_Init), meets the others at one barrier and
 * exits, so mpirun's launch-to-exit time compares with ltrun's.
 *
 *   mpicc -O2 mpi_barrier.c -o mpi_barrier      (bench/launch builds it)
 */
#include <mpi.h>

int main(int argc, char **argv)
{
	if (MPI_Init(&argc, &argv) != MPI_SUCCESS)
		return 1;
	MPI_Barrier(MPI_COMM_WORLD);
	MPI_Finalize();
	return 0;
}
