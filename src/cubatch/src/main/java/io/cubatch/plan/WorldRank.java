package io.cubatch.plan;

import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.OptionalInt;

/**
 * This process's place among the ranks, from explicit arguments or from the launcher's environment.
 *
 * <h2>Launchers, in order of precedence</h2>
 * <table class="striped">
 *   <caption>Environment variables read</caption>
 *   <thead><tr><th>launcher</th><th>rank</th><th>world size</th><th>local rank</th></tr></thead>
 *   <tbody>
 *   <tr><td>torchrun</td><td>RANK</td><td>WORLD_SIZE</td><td>LOCAL_RANK</td></tr>
 *   <tr><td>Open MPI</td><td>OMPI_COMM_WORLD_RANK</td><td>OMPI_COMM_WORLD_SIZE</td><td>OMPI_COMM_WORLD_LOCAL_RANK</td></tr>
 *   <tr><td>Slurm</td><td>SLURM_PROCID</td><td>SLURM_NTASKS</td><td>SLURM_LOCALID</td></tr>
 *   </tbody>
 * </table>
 * Launchers nest ({@code srun torchrun ...}, {@code mpirun} inside an {@code sbatch} allocation): the inner
 * launcher sets its own variables and the outer one's stay in the environment with other values. So the
 * first launcher in the table whose rank or world size variable is set is the source, and the others are
 * ignored. An explicit argument that disagrees with that source is an error naming both, as is a
 * launcher whose own variables are malformed or inconsistent (a rank without a world size, a rank
 * outside [0, world size)).
 *
 * @param worldSize the number of ranks
 * @param rank      this process's rank, when known
 * @param localRank this process's rank on its node, when the launcher says
 * @param source    where the numbers came from, for messages: "--world-size/--rank", "torchrun (RANK,
 *                  WORLD_SIZE)", or "default (1 rank)"
 */
public record WorldRank(int worldSize, OptionalInt rank, OptionalInt localRank, String source) {

    record Launcher(String name, String rankVar, String sizeVar, String localVar) {
    }

    static final List<Launcher> LAUNCHERS = List.of(
            new Launcher("torchrun", "RANK", "WORLD_SIZE", "LOCAL_RANK"),
            new Launcher("Open MPI", "OMPI_COMM_WORLD_RANK", "OMPI_COMM_WORLD_SIZE", "OMPI_COMM_WORLD_LOCAL_RANK"),
            new Launcher("Slurm", "SLURM_PROCID", "SLURM_NTASKS", "SLURM_LOCALID"));

    /**
     * The ranks of the current process's environment and the given arguments (either may be absent).
     *
     * @param argRank the {@code --rank} argument, or empty
     * @param argWorldSize the {@code --world-size} argument, or empty
     * @return the resolved world size and rank
     * @throws PlanException when a value is out of range, malformed, or two sources disagree
     */
    public static WorldRank resolve(OptionalInt argRank, OptionalInt argWorldSize) {
        return resolve(argRank, argWorldSize, System.getenv());
    }

    /**
     * Resolves the world size and rank from arguments and an environment.
     *
     * @param argRank the {@code --rank} argument, or empty
     * @param argWorldSize the {@code --world-size} argument, or empty (at least 1 when present)
     * @param env the environment variables to read launchers from
     * @return the launcher's numbers when one is found, else the arguments, else one rank with an unknown rank
     * @throws PlanException when a value is out of range, malformed, or two sources disagree
     */
    public static WorldRank resolve(OptionalInt argRank, OptionalInt argWorldSize, Map<String, String> env) {
        Optional<WorldRank> launched = detect(env);
        if (argWorldSize.isPresent() && argWorldSize.getAsInt() < 1) {
            throw new PlanException("world size must be at least 1, got --world-size " + argWorldSize.getAsInt());
        }
        if (launched.isPresent()) {
            WorldRank l = launched.get();
            if (argWorldSize.isPresent() && argWorldSize.getAsInt() != l.worldSize()) {
                throw new PlanException("--world-size " + argWorldSize.getAsInt() + " conflicts with " + l.source()
                        + " world size " + l.worldSize() + ": drop --world-size, or pass the launcher's value");
            }
            if (argRank.isPresent() && l.rank().isPresent() && argRank.getAsInt() != l.rank().getAsInt()) {
                throw new PlanException("--rank " + argRank.getAsInt() + " conflicts with " + l.source()
                        + " rank " + l.rank().getAsInt() + ": drop --rank, or pass the launcher's value");
            }
            OptionalInt rank = l.rank().isPresent() ? l.rank() : argRank;
            checkRank(rank, l.worldSize(), l.source());
            return new WorldRank(l.worldSize(), rank, l.localRank(), l.source());
        }
        int world = argWorldSize.orElse(1);
        String source = argWorldSize.isPresent() ? "--world-size" : "default (1 rank: no --world-size, no launcher)";
        checkRank(argRank, world, source);
        return new WorldRank(world, argRank, OptionalInt.empty(), source);
    }

    /**
     * The first launcher in precedence order whose variables are set, validated.
     *
     * @param env the environment variables to read
     * @return the launcher's world size and rank, or empty when no launcher variable is set
     * @throws PlanException when the launcher's variables are malformed or inconsistent
     */
    public static Optional<WorldRank> detect(Map<String, String> env) {
        for (Launcher l : LAUNCHERS) {
            String rank = env.get(l.rankVar());
            String size = env.get(l.sizeVar());
            if (rank == null && size == null) {
                continue;
            }
            if (size == null) {
                throw new PlanException(l.name() + " sets " + l.rankVar() + "=" + rank + " but not " + l.sizeVar()
                        + ": set " + l.sizeVar() + " to the number of ranks, or unset " + l.rankVar());
            }
            int world = parse(l.sizeVar(), size, 1);
            OptionalInt r = rank == null ? OptionalInt.empty() : OptionalInt.of(parse(l.rankVar(), rank, 0));
            String local = env.get(l.localVar());
            OptionalInt lr = local == null ? OptionalInt.empty() : OptionalInt.of(parse(l.localVar(), local, 0));
            String source = l.name() + " (" + (rank == null ? "" : l.rankVar() + "=" + rank + ", ")
                    + l.sizeVar() + "=" + size + ")";
            checkRank(r, world, source);
            return Optional.of(new WorldRank(world, r, lr, source));
        }
        return Optional.empty();
    }

    private static int parse(String var, String value, int min) {
        String t = value.trim();
        if (!t.matches("[+-]?[0-9]+")) {
            throw new PlanException("environment variable " + var + "=\"" + value + "\" is not an integer;"
                    + " fix or unset it");
        }
        java.math.BigInteger v = new java.math.BigInteger(t);
        if (v.compareTo(java.math.BigInteger.valueOf(min)) < 0 || v.bitLength() > 31) {
            throw new PlanException("environment variable " + var + "=" + v + " is outside [" + min + ", "
                    + Integer.MAX_VALUE + "]; fix or unset it");
        }
        return v.intValueExact();
    }

    private static void checkRank(OptionalInt rank, int world, String source) {
        if (rank.isPresent() && (rank.getAsInt() < 0 || rank.getAsInt() >= world)) {
            throw new PlanException("rank " + rank.getAsInt() + " is outside [0, " + (world - 1) + "] for world size "
                    + world + " (from " + source + "): pass a rank from 0 to " + (world - 1));
        }
    }
}
