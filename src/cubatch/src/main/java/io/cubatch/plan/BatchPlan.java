package io.cubatch.plan;

import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.NoSuchElementException;
import java.util.Optional;
import java.util.OptionalLong;

/**
 * Which samples each rank processes at each step of one epoch: a pure function of (number of samples,
 * batch size, world size, policies, seed, epoch, consumed samples). Nothing is materialised; every batch
 * is computed on demand in O(batch size), so plans over billions of samples cost nothing to build.
 *
 * <h2>Definition</h2>
 * <ol>
 *   <li><b>Global order</b> {@code g(p)}, {@code p in [0, n)}: the identity when unshuffled, else
 *       {@link ShuffleOrder}{@code (n, seed, epoch)}. It never depends on the world size.</li>
 *   <li><b>Resume</b>: the first {@code k = resumeAt} positions of the global order are consumed; the plan
 *       covers the remaining {@code m = n - k} positions {@code k .. n-1}.</li>
 *   <li><b>Across ranks</b> ({@link RankRemainder}, required when {@code m % W != 0}): the remaining
 *       sequence is padded to {@code ceil(m/W)·W} slots with {@code g(0), g(1), ...} (cycling when more
 *       than {@code n} are needed, as PyTorch does), cut to {@code floor(m/W)·W} slots, or left as is.</li>
 *   <li><b>Rank slice</b>: rank {@code r} takes slots {@code r, r+W, r+2W, ...}: PyTorch's
 *       {@code indices[r:total:W]}.</li>
 *   <li><b>Batches</b>: each rank cuts its slots into batches of {@code B} in order; the last one follows
 *       {@link LastBatch} (required when some rank's count is not a multiple of {@code B}).</li>
 * </ol>
 * Hence step {@code s} consumes the contiguous global slots {@code [s·B·W, (s+1)·B·W)}, and a plan resumed
 * at {@link #consumedAfter(long) consumedAfter(s)} yields exactly the uninterrupted plan's batches from
 * step {@code s} on. Unshuffled, the batches equal PyTorch's {@code DistributedSampler(shuffle=False,
 * drop_last=...)} feeding {@code DataLoader(batch_size=B, drop_last=...)}.
 *
 * <p>Instances are immutable and thread-safe. Build one with {@link #builder()}.
 */
public final class BatchPlan {
    private final long samples;
    private final int batchSize;
    private final int worldSize;
    private final boolean globalBatchGiven;
    private final RankRemainder rankRemainder;
    private final LastBatch lastBatch;
    private final Long seed;
    private final long epoch;
    private final long resumeAt;
    private final boolean evaluation;
    private final ShuffleOrder order;
    /** Remaining positions after resume: {@code samples - resumeAt}. */
    private final long remaining;
    /** Slots after the rank policy: remaining padded, cut or kept. */
    private final long slots;

    private BatchPlan(Builder b, RankRemainder rankRemainder, long slots) {
        this.samples = b.samples;
        this.batchSize = b.batchSize;
        this.worldSize = b.worldSize;
        this.globalBatchGiven = b.globalBatchGiven;
        this.rankRemainder = rankRemainder;
        this.lastBatch = b.lastBatch;
        this.seed = b.seed;
        this.epoch = b.epoch;
        this.resumeAt = b.resumeAt;
        this.evaluation = b.evaluation;
        this.order = b.seed == null ? null : new ShuffleOrder(b.samples, b.seed, b.epoch);
        this.remaining = b.samples - b.resumeAt;
        this.slots = slots;
    }

    public static Builder builder() {
        return new Builder();
    }

    // ---- configuration -------------------------------------------------------------------------------

    /** Samples in the epoch. */
    public long samples() {
        return samples;
    }

    /** Samples per rank per step (the local batch size). */
    public int batchSize() {
        return batchSize;
    }

    /** Samples per step over all ranks: {@code batchSize() * worldSize()}. */
    public long globalBatchSize() {
        return (long) batchSize * worldSize;
    }

    /** True when the plan was built from a global batch size. */
    public boolean globalBatchGiven() {
        return globalBatchGiven;
    }

    public int worldSize() {
        return worldSize;
    }

    /** The rank policy, empty when none was given (then none was needed). */
    public Optional<RankRemainder> rankRemainder() {
        return Optional.ofNullable(rankRemainder);
    }

    /** The last-batch policy, empty when none was given (then none was needed). */
    public Optional<LastBatch> lastBatch() {
        return Optional.ofNullable(lastBatch);
    }

    public boolean shuffled() {
        return seed != null;
    }

    /** The shuffle seed, empty when unshuffled. */
    public OptionalLong seed() {
        return seed == null ? OptionalLong.empty() : OptionalLong.of(seed);
    }

    public long epoch() {
        return epoch;
    }

    /** Samples of the global order already consumed before this plan starts. */
    public long resumeAt() {
        return resumeAt;
    }

    /** True for an evaluation plan, where repeated samples skew metrics. */
    public boolean evaluation() {
        return evaluation;
    }

    // ---- the plan ------------------------------------------------------------------------------------

    /** The sample at global position {@code p} of this epoch's order, {@code p in [0, samples)}. */
    public long globalOrder(long p) {
        if (p < 0 || p >= samples) {
            throw new IndexOutOfBoundsException("global position " + p + " outside [0, " + samples + ")");
        }
        return order == null ? p : order.sampleAt(p);
    }

    /** Samples (slots) rank {@code rank} processes in this plan, repeats included, before last-batch policy. */
    public long rankSamples(int rank) {
        checkRank(rank);
        if (slots <= rank) {
            return 0;
        }
        return (slots - rank + worldSize - 1) / worldSize;
    }

    /** Steps rank {@code rank} runs. */
    public long steps(int rank) {
        long n = rankSamples(rank);
        return lastBatch == LastBatch.DROP ? n / batchSize : ceilDiv(n, batchSize);
    }

    /** The most steps any rank runs (rank 0 always has the most). */
    public long maxSteps() {
        return steps(0);
    }

    /** The fewest steps any rank runs. */
    public long minSteps() {
        return steps(worldSize - 1);
    }

    /**
     * The batch of rank {@code rank} at step {@code step}.
     *
     * @throws IndexOutOfBoundsException when the rank or step is outside the plan
     */
    public PlannedBatch batch(int rank, long step) {
        long steps = steps(rank);
        if (step < 0 || step >= steps) {
            throw new IndexOutOfBoundsException("step " + step + " outside [0, " + steps + ") for rank " + rank);
        }
        long n = rankSamples(rank);
        long first = step * batchSize;
        int real = (int) Math.min(batchSize, n - first);
        int size = lastBatch == LastBatch.FILL ? batchSize : real;
        long[] out = new long[size];
        int repeated = 0;
        for (int i = 0; i < real; i++) {
            long slot = (first + i) * worldSize + rank;
            out[i] = sampleAtSlot(slot);
            if (slot >= remaining) {
                repeated++;
            }
        }
        for (int i = real; i < size; i++) {
            out[i] = out[i % real];
        }
        return new PlannedBatch(rank, step, out, repeated, size - real);
    }

    /** The batches of one rank, in step order. */
    public Iterable<PlannedBatch> batches(int rank) {
        long steps = steps(rank);
        return () -> new Iterator<>() {
            long step;

            @Override
            public boolean hasNext() {
                return step < steps;
            }

            @Override
            public PlannedBatch next() {
                if (step >= steps) {
                    throw new NoSuchElementException();
                }
                return batch(rank, step++);
            }
        };
    }

    /**
     * The consumed-sample count to checkpoint after {@code stepsDone} steps have finished on every rank:
     * building the same plan with {@code resumeAt(consumedAfter(s))} yields this plan's batches from step
     * {@code s} on. It never exceeds {@link #samples()}; {@code samples()} means the epoch is complete.
     */
    public long consumedAfter(long stepsDone) {
        if (stepsDone < 0) {
            throw new IllegalArgumentException("stepsDone must be >= 0, got " + stepsDone);
        }
        long slotsDone = Math.multiplyHigh(stepsDone, globalBatchSize()) != 0
                ? Long.MAX_VALUE : stepsDone * globalBatchSize();
        return resumeAt + Math.min(slotsDone, remaining);
    }

    /** A builder holding this plan's configuration (batch size per rank), to derive related plans. */
    public Builder toBuilder() {
        Builder b = builder().samples(samples).batchSize(batchSize).worldSize(worldSize).rankRemainder(rankRemainder)
                .lastBatch(lastBatch).epoch(epoch).resumeAt(resumeAt).evaluation(evaluation);
        return seed == null ? b : b.shuffle(seed);
    }

    /** The same plan for another epoch, from its start. */
    public BatchPlan forEpoch(long nextEpoch) {
        return toBuilder().epoch(nextEpoch).resumeAt(0).build();
    }

    /**
     * A stable 64-bit fingerprint of what decides the batches apart from the epoch and the resume point:
     * samples, batch size, world size, policies, shuffle seed and algorithm. A checkpoint carries it so a
     * resume with another configuration is refused instead of silently yielding other batches.
     */
    public long configHash() {
        long h = ShuffleOrder.mix(samples ^ 0x636275626174L);
        for (long v : new long[] {batchSize, worldSize, rankRemainder == null ? -1 : rankRemainder.ordinal(),
                lastBatch == null ? -1 : lastBatch.ordinal(), seed == null ? 0 : 1, seed == null ? 0 : seed,
                ShuffleOrder.ALGORITHM.hashCode()}) {
            h = ShuffleOrder.mix(h ^ v) + ShuffleOrder.GOLDEN;
        }
        return h;
    }

    /** Per-rank summary and warnings; see {@link PlanExplanation}. */
    public PlanExplanation explain() {
        return PlanExplanation.of(this);
    }

    /** The samples the rank policy drops from rank {@code rank} (at most one). */
    long[] rankDropped(int rank) {
        if (rankRemainder != RankRemainder.DROP) {
            return new long[0];
        }
        long slot = slots + rank;
        return slot < remaining ? new long[] {globalOrder(resumeAt + slot)} : new long[0];
    }

    /** The samples the last-batch policy drops from rank {@code rank} (fewer than the batch size). */
    long[] lastBatchDropped(int rank) {
        return lastBatch == LastBatch.DROP ? incompleteTail(rank) : new long[0];
    }

    /** The first-seen samples of rank {@code rank} after its last full batch: what {@link LastBatch#DROP} drops. */
    long[] incompleteTail(int rank) {
        long n = rankSamples(rank);
        long kept = n / batchSize * batchSize;
        // Only first appearances count as dropped; a rank-padding repeat that falls off was seen elsewhere.
        return java.util.stream.LongStream.range(kept, n)
                .map(j -> j * worldSize + rank)
                .filter(slot -> slot < remaining)
                .map(this::sampleAtSlot)
                .toArray();
    }

    /** The number of global positions this plan covers: {@code samples - resumeAt}. */
    long remaining() {
        return remaining;
    }

    private long sampleAtSlot(long slot) {
        if (slot < remaining) {
            return globalOrder(resumeAt + slot);
        }
        return globalOrder((slot - remaining) % samples);
    }

    private void checkRank(int rank) {
        if (rank < 0 || rank >= worldSize) {
            throw new IndexOutOfBoundsException(
                    "rank " + rank + " outside [0, " + worldSize + ") for world size " + worldSize);
        }
    }

    static long ceilDiv(long a, long b) {
        return a / b + (a % b == 0 ? 0 : 1);
    }

    /**
     * Builds a {@link BatchPlan}. Required: {@link #samples(long)}, and exactly one of
     * {@link #batchSize(int)} or {@link #globalBatchSize(long)}; the policies are required whenever their
     * remainder exists, and {@link #build()} says which and what each would do.
     */
    public static final class Builder {
        private long samples = -1;
        private int batchSize = -1;
        private long globalBatchSize = -1;
        private boolean batchSizeGiven;
        private boolean globalBatchGiven;
        private int worldSize = 1;
        private RankRemainder rankRemainder;
        private LastBatch lastBatch;
        private Long seed;
        private long epoch;
        private long resumeAt;
        private boolean evaluation;

        private Builder() {
        }

        /** Number of samples in the epoch, at least 1. */
        public Builder samples(long samples) {
            this.samples = samples;
            return this;
        }

        /** Samples per rank per step. Exclusive with {@link #globalBatchSize(long)}. */
        public Builder batchSize(int batchSize) {
            this.batchSize = batchSize;
            this.batchSizeGiven = true;
            return this;
        }

        /** Samples per step over all ranks; the world size must divide it. Exclusive with {@link #batchSize(int)}. */
        public Builder globalBatchSize(long globalBatchSize) {
            this.globalBatchSize = globalBatchSize;
            this.globalBatchGiven = true;
            return this;
        }

        /** Number of ranks; 1 unless set. */
        public Builder worldSize(int worldSize) {
            this.worldSize = worldSize;
            return this;
        }

        public Builder rankRemainder(RankRemainder policy) {
            this.rankRemainder = policy;
            return this;
        }

        public Builder lastBatch(LastBatch policy) {
            this.lastBatch = policy;
            return this;
        }

        /** Shuffle with this seed (see {@link ShuffleOrder}); unshuffled unless called. */
        public Builder shuffle(long seed) {
            this.seed = seed;
            return this;
        }

        /** The epoch, at least 0; it changes the shuffled order. */
        public Builder epoch(long epoch) {
            this.epoch = epoch;
            return this;
        }

        /** Start after this many samples of the epoch's global order, in [0, samples]. */
        public Builder resumeAt(long consumedSamples) {
            this.resumeAt = consumedSamples;
            return this;
        }

        /** Marks an evaluation plan: repeated samples then get a warning, since they skew metrics. */
        public Builder evaluation(boolean evaluation) {
            this.evaluation = evaluation;
            return this;
        }

        /**
         * Validates and builds.
         *
         * @throws PlanException naming the value, the valid range and the fix, when the numbers do not
         *                       make a plan or a needed policy is missing
         */
        public BatchPlan build() {
            if (samples < 1 || samples > ShuffleOrder.MAX_SAMPLES) {
                throw new PlanException(samples == -1
                        ? "the number of samples is required: set samples(n) (CLI: --samples N)"
                        : "samples must be in [1, 2^62], got " + samples
                                + ": a plan needs at least one sample");
            }
            if (worldSize < 1) {
                throw new PlanException("world size must be at least 1, got " + worldSize
                        + ": pass the number of ranks (processes) taking part");
            }
            resolveBatchSize();
            if (epoch < 0) {
                throw new PlanException("epoch must be >= 0, got " + epoch);
            }
            if (resumeAt < 0 || resumeAt > samples) {
                throw new PlanException("resume point must be in [0, " + samples + "] consumed samples, got "
                        + resumeAt + (resumeAt > samples
                        ? ": a count of " + samples + " or more means the epoch is complete;"
                                + " start epoch " + (epoch + 1) + " from 0" : ""));
            }
            long remaining = samples - resumeAt;
            long rankRem = remaining % worldSize;
            if (rankRem != 0 && rankRemainder == null) {
                throw new PlanException(Remainders.missingRankRemainder(this, remaining));
            }
            long slots = rankRem == 0 ? remaining : switch (rankRemainder) {
                case PAD -> remaining + worldSize - rankRem;
                case DROP -> remaining - rankRem;
                case PARTIAL -> remaining;
            };
            BatchPlan plan = new BatchPlan(this, rankRemainder, slots);
            if (lastBatch == null && (plan.rankSamples(0) % batchSize != 0
                    || plan.rankSamples(worldSize - 1) % batchSize != 0)) {
                throw new PlanException(Remainders.missingLastBatch(plan));
            }
            return plan;
        }

        private void resolveBatchSize() {
            if (batchSizeGiven && globalBatchGiven) {
                throw new PlanException("give the batch size once: either per rank (batchSize, CLI --batch-size)"
                        + " or global (globalBatchSize, CLI --global-batch-size), not both");
            }
            if (!batchSizeGiven && !globalBatchGiven) {
                throw new PlanException("the batch size has no default: set it per rank (batchSize, CLI"
                        + " --batch-size B) or over all ranks (globalBatchSize, CLI --global-batch-size G)");
            }
            if (batchSizeGiven) {
                if (batchSize < 1) {
                    throw new PlanException("batch size must be a positive integer, got " + batchSize
                            + ": pass the number of samples each rank processes per step");
                }
                return;
            }
            if (globalBatchSize < 1) {
                throw new PlanException("global batch size must be a positive integer, got " + globalBatchSize);
            }
            if (globalBatchSize % worldSize != 0) {
                long below = globalBatchSize / worldSize * worldSize;
                long above = below + worldSize;
                throw new PlanException("global batch size " + globalBatchSize + " does not divide over "
                        + worldSize + " ranks (" + globalBatchSize + " = " + worldSize + " x "
                        + globalBatchSize / worldSize + " + " + globalBatchSize % worldSize + "): use "
                        + (below > 0 ? below + " (" + below / worldSize + " per rank) or " : "")
                        + above + " (" + above / worldSize + " per rank), or a per-rank --batch-size");
            }
            if (globalBatchSize / worldSize > Integer.MAX_VALUE) {
                throw new PlanException("per-rank batch size " + globalBatchSize / worldSize
                        + " exceeds " + Integer.MAX_VALUE);
            }
            batchSize = (int) (globalBatchSize / worldSize);
        }

        // read by Remainders while the plan is not built yet
        long samples() {
            return samples;
        }

        int worldSize() {
            return worldSize;
        }

        int batchSize() {
            return batchSize;
        }

        Builder copy() {
            Builder c = new Builder();
            c.samples = samples;
            c.batchSize = batchSize;
            c.batchSizeGiven = true;
            c.worldSize = worldSize;
            c.rankRemainder = rankRemainder;
            c.lastBatch = lastBatch;
            c.seed = seed;
            c.epoch = epoch;
            c.resumeAt = resumeAt;
            c.evaluation = evaluation;
            return c;
        }
    }

    /** Ranks grouped by a per-rank value: consecutive ranks with equal values form one group. */
    static List<long[]> groupRanks(int worldSize, java.util.function.IntToLongFunction value) {
        List<long[]> groups = new ArrayList<>(); // {firstRank, lastRank, value}
        for (int r = 0; r < worldSize; r++) {
            long v = value.applyAsLong(r);
            long[] last = groups.isEmpty() ? null : groups.getLast();
            if (last != null && last[2] == v) {
                last[1] = r;
            } else {
                groups.add(new long[] {r, r, v});
            }
        }
        return groups;
    }
}
