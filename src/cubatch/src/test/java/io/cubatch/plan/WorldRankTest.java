package io.cubatch.plan;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Map;
import java.util.OptionalInt;
import org.junit.jupiter.api.Test;

class WorldRankTest {
    private static final OptionalInt NONE = OptionalInt.empty();

    @Test
    void defaultsToOneRankWithoutArgumentsOrLauncher() {
        WorldRank w = WorldRank.resolve(NONE, NONE, Map.of());
        assertEquals(1, w.worldSize());
        assertTrue(w.rank().isEmpty());
    }

    @Test
    void argumentsAreUsedWhenNoLauncherIsPresent() {
        WorldRank w = WorldRank.resolve(OptionalInt.of(2), OptionalInt.of(4), Map.of());
        assertEquals(4, w.worldSize());
        assertEquals(2, w.rank().getAsInt());
        assertEquals("--world-size", w.source());
    }

    @Test
    void readsTorchrun() {
        WorldRank w = WorldRank.resolve(NONE, NONE, Map.of("RANK", "3", "WORLD_SIZE", "8", "LOCAL_RANK", "1"));
        assertEquals(8, w.worldSize());
        assertEquals(3, w.rank().getAsInt());
        assertEquals(1, w.localRank().getAsInt());
        assertTrue(w.source().startsWith("torchrun"), w.source());
    }

    @Test
    void readsOpenMpiAndSlurm() {
        WorldRank mpi = WorldRank.resolve(NONE, NONE,
                Map.of("OMPI_COMM_WORLD_RANK", "1", "OMPI_COMM_WORLD_SIZE", "2", "OMPI_COMM_WORLD_LOCAL_RANK", "1"));
        assertEquals(2, mpi.worldSize());
        assertEquals(1, mpi.rank().getAsInt());
        WorldRank slurm = WorldRank.resolve(NONE, NONE, Map.of("SLURM_PROCID", "5", "SLURM_NTASKS", "6"));
        assertEquals(6, slurm.worldSize());
        assertEquals(5, slurm.rank().getAsInt());
        assertTrue(slurm.source().startsWith("Slurm"));
    }

    @Test
    void innerLauncherWinsOverAnOuterSlurmAllocation() {
        // srun -N2 torchrun --nproc-per-node 8: Slurm says task 1 of 2, torchrun says rank 9 of 16
        WorldRank w = WorldRank.resolve(NONE, NONE, Map.of("SLURM_PROCID", "1", "SLURM_NTASKS", "2",
                "RANK", "9", "WORLD_SIZE", "16"));
        assertEquals(16, w.worldSize());
        assertEquals(9, w.rank().getAsInt());
    }

    @Test
    void argumentConflictingWithTheLauncherIsAnErrorNamingBoth() {
        PlanException e = assertThrows(PlanException.class, () -> WorldRank.resolve(NONE, OptionalInt.of(8),
                Map.of("RANK", "0", "WORLD_SIZE", "4")));
        assertTrue(e.getMessage().contains("--world-size 8") && e.getMessage().contains("WORLD_SIZE=4"), e.getMessage());
        e = assertThrows(PlanException.class, () -> WorldRank.resolve(OptionalInt.of(1), NONE,
                Map.of("RANK", "0", "WORLD_SIZE", "4")));
        assertTrue(e.getMessage().contains("--rank 1") && e.getMessage().contains("rank 0"), e.getMessage());
    }

    @Test
    void rankOutOfRangeIsAnErrorNamingTheRange() {
        PlanException e = assertThrows(PlanException.class,
                () -> WorldRank.resolve(OptionalInt.of(4), OptionalInt.of(4), Map.of()));
        assertTrue(e.getMessage().contains("rank 4 is outside [0, 3]"), e.getMessage());
        e = assertThrows(PlanException.class,
                () -> WorldRank.resolve(NONE, NONE, Map.of("RANK", "4", "WORLD_SIZE", "4")));
        assertTrue(e.getMessage().contains("RANK=4"), e.getMessage());
        assertThrows(PlanException.class, () -> WorldRank.resolve(OptionalInt.of(-1), NONE, Map.of()));
    }

    @Test
    void malformedLauncherVariablesAreErrors() {
        PlanException e = assertThrows(PlanException.class,
                () -> WorldRank.resolve(NONE, NONE, Map.of("RANK", "x", "WORLD_SIZE", "4")));
        assertTrue(e.getMessage().contains("RANK=\"x\""), e.getMessage());
        e = assertThrows(PlanException.class, () -> WorldRank.resolve(NONE, NONE, Map.of("RANK", "1")));
        assertTrue(e.getMessage().contains("not WORLD_SIZE"), e.getMessage());
        assertThrows(PlanException.class, () -> WorldRank.resolve(NONE, NONE, Map.of("WORLD_SIZE", "0")));
    }

    /** An integer too large for a rank is out of range, said so with the range, not "not an integer". */
    @Test
    void anIntegerBeyondTheRangeIsNamedAsSuch() {
        PlanException e = assertThrows(PlanException.class,
                () -> WorldRank.resolve(NONE, NONE, Map.of("RANK", "0", "WORLD_SIZE", "99999999999")));
        assertTrue(e.getMessage().contains("WORLD_SIZE=99999999999 is outside [1, 2147483647]"), e.getMessage());
        e = assertThrows(PlanException.class, () -> WorldRank.resolve(NONE, NONE, Map.of("WORLD_SIZE", "0")));
        assertTrue(e.getMessage().contains("WORLD_SIZE=0 is outside [1, "), e.getMessage());
        WorldRank w = WorldRank.resolve(NONE, NONE, Map.of("RANK", " 2 ", "WORLD_SIZE", "+4"));
        assertEquals(4, w.worldSize());
    }
}
