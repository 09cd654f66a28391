/* tp_group.c — agreement of a tensor-parallel group on success (tp_group.h). */
#include "tp_group.h"

int sp_tp_agree(MPI_Comm group, int rc, const char *who, sp_error *err)
{
    int bad = rc != 0, any_bad = 0, size = 0;
    MPI_Allreduce(&bad, &any_bad, 1, MPI_INT, MPI_MAX, group);
    MPI_Comm_size(group, &size);
    if (any_bad && !bad)
        return sp_error_set(err, "%s: another rank of the group (size %d) failed", who, size);
    return any_bad ? -1 : 0;
}
