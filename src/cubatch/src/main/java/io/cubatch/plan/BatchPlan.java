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
 * <h2>Batch sizes that change</h2>
 * <ul>
 *   <li><b>Micro-batches</b> ({@link Builder#microBatchSize}, {@link Builder#gradientAccumulation}): the
 *       global batch {@code G = m x a x W}; any two of global, micro and accumulation give the third. A
 *       rank's batch at a step is its {@code a} micro-batches of {@code m} in order
 *       ({@link #microBatch(int, long, int)}); micro-batch {@code j} of all ranks together is the
 *       contiguous global slots {@code [start + j·m·W, start + (j+1)·m·W)} of the step.</li>
 *   <li><b>Ramp-up</b> ({@link Builder#rampUp}): step {@code s} takes {@code G_s} global slots, by
 *       Megatron's formula ({@link RampUp}) at the training-consumed count {@code c = epoch x samples +
 *       resumeAt + (slots before the step)}; rank {@code r} takes slots {@code start + i·W + r},
 *       {@code i < G_s / W}. Every size used must divide by {@code m x W}. The step boundaries are
 *       segments of equal sizes ({@code StepSchedule}), so a step's start, and the step starting at a
 *       consumed count ({@link #stepAtConsumed}), take O(log stages).</li>
 *   <li><b>Token budgets</b> ({@link Builder#maxTokens}): batches of at most {@code T} padded tokens, cut
 *       from the global order and dealt round-robin to the ranks ({@code TokenBudget} has the rule).</li>
 *   <li><b>Data-parallel groups</b> ({@link Builder#dataParallel}): the plan's world size is the number of
 *       data-parallel replicas; tensor- and pipeline-parallel ranks of one replica use its rank
 *       ({@link DataParallel}).</li>
 * </ul>
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
    private final int microBatchSize;
    private final RampUp rampUp;
    private final StepSchedule schedule;
    private final TokenBudget tokens;
    private final Integer dataParallelRank;
    private final java.util.function.LongUnaryOperator tokenLength;
    private final java.util.function.LongUnaryOperator rowLength;
    /** Remaining positions after resume: {@code samples - resumeAt}. */
    private final long remaining;
    /** Slots after the rank policy: remaining padded, cut or kept. */
    private final long slots;

    private BatchPlan(Builder b, RankRemainder rankRemainder, long slots, StepSchedule schedule, TokenBudget tokens) {
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
        this.microBatchSize = b.microBatchSize;
        this.rampUp = b.rampUp;
        this.schedule = schedule;
        this.tokens = tokens;
        this.dataParallelRank = b.dataParallelRank;
        this.tokenLength = b.tokenLength;
        this.rowLength = b.rowLength;
    }

    /**
     * A builder with no samples or batch size set, one rank, unshuffled, epoch 0, resume at 0.
     *
     * @return a new builder
     */
    public static Builder builder() {
        return new Builder();
    }

    // ---- configuration -------------------------------------------------------------------------------

    /** The largest per-rank batch: a batch's samples are one {@code long[]}, and the JVM's arrays stop there. */
    public static final int MAX_BATCH_SIZE = Integer.MAX_VALUE - 8;

    /**
     * Samples in the epoch.
     *
     * @return the number of samples in the epoch, at least 1
     */
    public long samples() {
        return samples;
    }

    /**
     * Samples per rank per step (the local batch size); with a ramp-up, the final one; with a token
     * budget, the most rows of any batch.
     *
     * @return the local batch size, at least 1
     */
    public int batchSize() {
        return batchSize;
    }

    /**
     * Samples per micro-batch; equal to {@link #batchSize()} unless micro-batches were asked for.
     *
     * @return the micro-batch size in samples, a divisor of {@link #batchSize()}
     */
    public int microBatchSize() {
        return microBatchSize;
    }

    /**
     * Micro-batches per rank per full step at the final batch size: {@code batchSize / microBatchSize}.
     *
     * @return {@code batchSize() / microBatchSize()}, at least 1
     */
    public int gradientAccumulation() {
        return batchSize / microBatchSize;
    }

    /**
     * The ramp-up, when the global batch size grows.
     *
     * @return the ramp-up, or empty for a constant global batch size
     */
    public Optional<RampUp> rampUp() {
        return Optional.ofNullable(rampUp);
    }

    /**
     * The token budget per batch, when batches are formed by tokens.
     *
     * @return the maximum padded tokens per batch, or empty when batches are formed by a batch size
     */
    public OptionalLong maxTokens() {
        return tokens == null ? OptionalLong.empty() : OptionalLong.of(tokens.maxTokens);
    }

    /**
     * The sort window of a token-budget plan (0: unsorted).
     *
     * @return the sort window in samples, 0 when unsorted or without a token budget
     */
    public int sortWindow() {
        return tokens == null ? 0 : tokens.sortWindow;
    }

    /**
     * The data-parallel rank given with {@link Builder#dataParallel}, if any.
     *
     * @return the data-parallel rank, or empty when {@link Builder#dataParallel} was not used
     */
    public java.util.OptionalInt dataParallelRank() {
        return dataParallelRank == null ? java.util.OptionalInt.empty() : java.util.OptionalInt.of(dataParallelRank);
    }

    /**
     * The global batch size of step {@code step}: by the ramp-up formula (Megatron's
     * {@code get_current_global_batch_size()}), else the constant one; for a token budget, the rows of
     * all ranks at that step. A last, partial step holds fewer entries than this.
     *
     * @param step the step, from 0
     * @return the samples of all ranks at that step when full (for a token budget, the rows actually planned)
     */
    public long globalBatchSize(long step) {
        if (tokens != null) {
            long rows = 0;
            for (int r = 0; r < worldSize; r++) {
                if (step < steps(r)) {
                    rows += batch(r, step).size();
                }
            }
            return rows;
        }
        return schedule.size(step) * worldSize;
    }

    /**
     * Micro-batches of rank {@code rank} at step {@code step}: its batch cut in pieces of {@link #microBatchSize()}.
     *
     * @param rank the rank, in {@code [0, worldSize())}
     * @param step the step, in {@code [0, steps(rank))}
     * @return the number of micro-batches, at least 1 for a non-empty batch
     */
    public int microBatches(int rank, long step) {
        return (int) ceilDiv(batch(rank, step).size(), microBatchSize);
    }

    /**
     * Micro-batch {@code j} of rank {@code rank} at step {@code step}.
     *
     * @param rank the rank, in {@code [0, worldSize())}
     * @param step the step, in {@code [0, steps(rank))}
     * @param j the micro-batch, in {@code [0, microBatches(rank, step))}
     * @return the micro-batch, a slice of {@link #batch(int, long)}
     * @throws IndexOutOfBoundsException when the rank, step or {@code j} is outside the plan
     */
    public PlannedBatch microBatch(int rank, long step, int j) {
        return slice(batch(rank, step), j, microBatchSize);
    }

    /**
     * Entries {@code [j·m, (j+1)·m)} of a batch, with its repeat and fill flags.
     *
     * @param b the batch to slice
     * @param j the micro-batch index, from 0
     * @param m the micro-batch size in samples, at least 1
     * @return entries {@code [j·m, min((j+1)·m, b.size()))} of {@code b} (with {@code b} itself when that is all of
     *     it), counting the repeats and fill that fall in that range
     * @throws IndexOutOfBoundsException when {@code j} is negative or starts past the batch's end
     */
    public static PlannedBatch slice(PlannedBatch b, int j, int m) {
        int from = Math.multiplyExact(j, m);
        if (j < 0 || from >= b.size() && !(from == 0 && b.size() == 0)) {
            throw new IndexOutOfBoundsException("micro-batch " + j + " outside [0, " + ceilDiv(b.size(), m)
                    + ") of a batch of " + b.size());
        }
        int to = Math.min(b.size(), from + m);
        if (from == 0 && to == b.size()) {
            return b;
        }
        int fillFrom = b.size() - b.filled();
        int repeatFrom = fillFrom - b.repeated();
        int filled = Math.max(0, to - Math.max(from, fillFrom));
        int repeated = Math.max(0, Math.min(to, fillFrom) - Math.max(from, repeatFrom));
        return new PlannedBatch(b.rank(), b.step(), java.util.Arrays.copyOfRange(b.samples(), from, to), repeated, filled);
    }

    /**
     * The real tokens of step {@code step} over all ranks and micro-batches, computed from the plan alone
     * (no communication): the sum of {@code realLength} over every entry every rank processes at that
     * step, repeats and fill included (they are in the batches, masked or not).
     *
     * @param realLength a sample's length after truncation, e.g. {@code i -> min(store.length(i), maxlen)}
     * @param step the step, from 0; ranks that have no batch at that step add nothing
     * @return the sum of {@code realLength} over the step's entries on all ranks
     */
    public long globalRealTokens(long step, java.util.function.LongUnaryOperator realLength) {
        long sum = 0;
        for (int r = 0; r < worldSize; r++) {
            if (step < steps(r)) {
                for (long id : batch(r, step).samples()) {
                    sum += realLength.applyAsLong(id);
                }
            }
        }
        return sum;
    }

    /**
     * The real tokens of micro-batch {@code j} of step {@code step} over all ranks (see {@link #globalRealTokens(long,
     * java.util.function.LongUnaryOperator)}).
     *
     * @param step the step, from 0
     * @param j the micro-batch within the step, from 0; ranks with fewer micro-batches add nothing
     * @param realLength a sample's length after truncation
     * @return the sum of {@code realLength} over micro-batch {@code j}'s entries on all ranks
     */
    public long globalRealTokens(long step, int j, java.util.function.LongUnaryOperator realLength) {
        long sum = 0;
        for (int r = 0; r < worldSize; r++) {
            if (step < steps(r) && j < microBatches(r, step)) {
                for (long id : microBatch(r, step, j).samples()) {
                    sum += realLength.applyAsLong(id);
                }
            }
        }
        return sum;
    }

    /**
     * Micro-batches of every rank before step {@code step} (full steps have {@code size / microBatchSize}
     * each): the index of the step's first micro-batch in a rank's sequence of micro-batches.
     *
     * @param step the step, from 0
     * @return the number of micro-batches one rank runs before that step
     */
    public long microBatchesBefore(long step) {
        return tokens != null ? step : schedule.start(step) / microBatchSize;
    }

    /**
     * The step of a rank's {@code u}-th micro-batch (the inverse of {@link #microBatchesBefore}).
     *
     * @param u the micro-batch's index in a rank's sequence, from 0
     * @return the step holding that micro-batch
     */
    public long stepOfMicroBatch(long u) {
        if (tokens != null) {
            return u;
        }
        long local = Math.multiplyHigh(u, microBatchSize) != 0 ? Long.MAX_VALUE : u * microBatchSize;
        return schedule.stepAt(local);
    }

    /**
     * Micro-batches rank {@code rank} processes in this plan.
     *
     * @param rank the rank, in {@code [0, worldSize())}
     * @return the total number of micro-batches over all of that rank's steps
     */
    public long microBatchCount(int rank) {
        long steps = steps(rank);
        return steps == 0 ? 0 : microBatchesBefore(steps - 1) + microBatches(rank, steps - 1);
    }

    /**
     * The step that starts at consumed count {@code consumed} (the inverse of {@link #consumedAfter}), or
     * -1 when no step starts there; {@code samples()} gives {@link #maxSteps()}. O(log) in the ramp-up
     * stages or token batches.
     *
     * @param consumed a consumed-sample count of the epoch's global order
     * @return the step starting there, {@link #maxSteps()} for {@code samples()}, or -1
     */
    public long stepAtConsumed(long consumed) {
        if (consumed == samples) {
            return maxSteps();
        }
        long q = consumed - resumeAt;
        if (q < 0 || q >= remaining) {
            return -1;
        }
        if (tokens != null) {
            int j = java.util.Arrays.binarySearch(tokens.bounds, q);
            return j >= 0 && j % worldSize == 0 ? j / worldSize : -1;
        }
        if (q % worldSize != 0) {
            return -1;
        }
        long s = schedule.stepAt(q / worldSize);
        return schedule.start(s) == q / worldSize ? s : -1;
    }

    /**
     * Samples per step over all ranks: {@code batchSize() * worldSize()}.
     *
     * @return {@code batchSize() * worldSize()}
     */
    public long globalBatchSize() {
        return (long) batchSize * worldSize;
    }

    /**
     * True when the plan was built from a global batch size.
     *
     * @return whether {@link Builder#globalBatchSize(long)} was used rather than {@link Builder#batchSize(int)}
     */
    public boolean globalBatchGiven() {
        return globalBatchGiven;
    }

    /**
     * The number of ranks taking part (with {@link Builder#dataParallel}, the data-parallel size).
     *
     * @return the world size, at least 1
     */
    public int worldSize() {
        return worldSize;
    }

    /**
     * The rank policy, empty when none was given (then none was needed).
     *
     * @return the rank-remainder policy, or empty
     */
    public Optional<RankRemainder> rankRemainder() {
        return Optional.ofNullable(rankRemainder);
    }

    /**
     * The last-batch policy, empty when none was given (then none was needed).
     *
     * @return the last-batch policy, or empty
     */
    public Optional<LastBatch> lastBatch() {
        return Optional.ofNullable(lastBatch);
    }

    /**
     * Whether the global order is shuffled ({@link Builder#shuffle(long)} was called).
     *
     * @return true when shuffled
     */
    public boolean shuffled() {
        return seed != null;
    }

    /**
     * The shuffle seed, empty when unshuffled.
     *
     * @return the seed, or empty
     */
    public OptionalLong seed() {
        return seed == null ? OptionalLong.empty() : OptionalLong.of(seed);
    }

    /**
     * The epoch this plan covers; with a seed it selects the shuffled order.
     *
     * @return the epoch, at least 0
     */
    public long epoch() {
        return epoch;
    }

    /**
     * Samples of the global order already consumed before this plan starts.
     *
     * @return the consumed-sample count the plan resumes at, in {@code [0, samples()]}
     */
    public long resumeAt() {
        return resumeAt;
    }

    /**
     * True for an evaluation plan, where repeated samples skew metrics.
     *
     * @return whether this is an evaluation plan
     */
    public boolean evaluation() {
        return evaluation;
    }

    // ---- the plan ------------------------------------------------------------------------------------

    /**
     * The sample at global position {@code p} of this epoch's order, {@code p in [0, samples)}.
     *
     * @param p the global position, in {@code [0, samples())}
     * @return the sample index at that position
     * @throws IndexOutOfBoundsException when {@code p} is outside {@code [0, samples())}
     */
    public long globalOrder(long p) {
        if (p < 0 || p >= samples) {
            throw new IndexOutOfBoundsException("global position " + p + " outside [0, " + samples + ")");
        }
        return order == null ? p : order.sampleAt(p);
    }

    /**
     * Samples (slots) rank {@code rank} processes in this plan, repeats included, before last-batch policy.
     *
     * @param rank the rank, in {@code [0, worldSize())}
     * @return the number of slots dealt to the rank, 0 when it gets none
     * @throws IndexOutOfBoundsException when the rank is outside {@code [0, worldSize())}
     */
    public long rankSamples(int rank) {
        checkRank(rank);
        if (tokens != null) {
            long n = 0;
            for (long st = 0, steps = steps(rank); st < steps; st++) {
                n += batch(rank, st).size();
            }
            return n;
        }
        if (slots <= rank) {
            return 0;
        }
        return (slots - rank + worldSize - 1) / worldSize;
    }

    /**
     * Steps rank {@code rank} runs.
     *
     * @param rank the rank, in {@code [0, worldSize())}
     * @return the number of steps, after the last-batch policy (a dropped partial batch is not a step)
     */
    public long steps(int rank) {
        if (tokens != null) {
            checkRank(rank);
            long all = tokenBatches();
            return all > rank ? (all - rank + worldSize - 1) / worldSize : 0;
        }
        long n = rankSamples(rank);
        if (n == 0) {
            return 0;
        }
        long last = schedule.stepAt(n - 1);
        return lastBatch == LastBatch.DROP && partialLast(rank) ? last : last + 1;
    }

    /** Token batches dealt to the ranks, after the rank policy: padded with repeats, cut, or as formed. */
    private long tokenBatches() {
        long k = tokens.batches();
        long rem = k % worldSize;
        if (rem == 0 || rankRemainder == null) {
            return k;
        }
        return switch (rankRemainder) {
            case PAD -> k + worldSize - rem;
            case DROP -> k - rem;
            case PARTIAL -> k;
        };
    }

    /** True when rank {@code rank}'s last step is not full (before the last-batch policy). */
    boolean partialLast(int rank) {
        long n = rankSamples(rank);
        if (n == 0 || tokens != null) {
            return false;
        }
        long last = schedule.stepAt(n - 1);
        return schedule.start(last) + schedule.size(last) != n;
    }

    /** Steps of rank {@code rank} with a full batch (before fill). */
    long fullSteps(int rank) {
        return steps(rank) - (partialLast(rank) && lastBatch != LastBatch.DROP ? 1 : 0);
    }

    /**
     * The most steps any rank runs (rank 0 always has the most).
     *
     * @return {@code steps(0)}
     */
    public long maxSteps() {
        return steps(0);
    }

    /**
     * The fewest steps any rank runs.
     *
     * @return {@code steps(worldSize() - 1)}
     */
    public long minSteps() {
        return steps(worldSize - 1);
    }

    /**
     * The batch of rank {@code rank} at step {@code step}.
     *
     * @param rank the rank, in {@code [0, worldSize())}
     * @param step the step, in {@code [0, steps(rank))}
     * @return the batch, a new array of sample indices with its repeat and fill counts
     * @throws IndexOutOfBoundsException when the rank or step is outside the plan
     */
    public PlannedBatch batch(int rank, long step) {
        long steps = steps(rank);
        if (step < 0 || step >= steps) {
            throw new IndexOutOfBoundsException("step " + step + " outside [0, " + steps + ") for rank " + rank);
        }
        if (tokens != null) {
            return tokenBatch(rank, step);
        }
        long n = rankSamples(rank);
        long first = schedule.start(step);
        int full = (int) schedule.size(step);
        int real = (int) Math.min(full, n - first);
        int size = lastBatch == LastBatch.FILL ? full : real;
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

    private PlannedBatch tokenBatch(int rank, long step) {
        long j = step * worldSize + rank;
        long k = tokens.batches();
        boolean repeat = j >= k;
        long b = repeat ? (j - k) % k : j;
        long from = tokens.bounds[(int) b];
        long to = tokens.bounds[(int) b + 1];
        long[] out = new long[(int) (to - from)];
        for (int i = 0; i < out.length; i++) {
            out[i] = globalOrder(tokens.position(resumeAt + from + i));
        }
        return new PlannedBatch(rank, step, out, repeat ? out.length : 0, 0);
    }

    /**
     * The batches of one rank, in step order.
     *
     * @param rank the rank, in {@code [0, worldSize())}
     * @return a reusable view whose iterators compute each batch on demand
     */
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
     *
     * @param stepsDone the number of steps completed on every rank, at least 0
     * @return the consumed-sample count to resume at, in {@code [resumeAt(), samples()]}
     * @throws IllegalArgumentException when {@code stepsDone} is negative
     */
    public long consumedAfter(long stepsDone) {
        if (stepsDone < 0) {
            throw new IllegalArgumentException("stepsDone must be >= 0, got " + stepsDone);
        }
        if (tokens != null) {
            long j = Math.multiplyHigh(stepsDone, worldSize) != 0 ? Long.MAX_VALUE : stepsDone * worldSize;
            return resumeAt + (j >= tokens.batches() ? remaining : tokens.bounds[(int) j]);
        }
        long local = schedule.start(stepsDone);
        long slotsDone = Math.multiplyHigh(local, worldSize) != 0 ? Long.MAX_VALUE : local * worldSize;
        return resumeAt + Math.min(slotsDone, remaining);
    }

    /**
     * A builder holding this plan's configuration (batch size per rank), to derive related plans.
     *
     * @return a new builder; changing it does not change this plan
     */
    public Builder toBuilder() {
        Builder b = builder().samples(samples).worldSize(worldSize).rankRemainder(rankRemainder)
                .lastBatch(lastBatch).epoch(epoch).resumeAt(resumeAt).evaluation(evaluation);
        if (tokens != null) {
            b.maxTokens = tokens.maxTokens;
            b.tokenLength = tokenLength;
            b.rowLength = rowLength;
            b.sortWindow = tokens.sortWindow;
        } else {
            b.batchSize(batchSize);
            if (microBatchSize != batchSize) {
                b.microBatchSize(microBatchSize);
            }
        }
        if (rampUp != null) {
            b.rampUp(rampUp.start(), rampUp.increment(), rampUp.samples());
        }
        if (dataParallelRank != null) {
            b.dataParallelRank = dataParallelRank;
        }
        return seed == null ? b : b.shuffle(seed);
    }

    /**
     * The same plan for another epoch, from its start.
     *
     * @param nextEpoch the epoch of the new plan, at least 0
     * @return a plan with this configuration, that epoch and {@code resumeAt} 0
     */
    public BatchPlan forEpoch(long nextEpoch) {
        return toBuilder().epoch(nextEpoch).resumeAt(0).build();
    }

    /**
     * A stable 64-bit fingerprint of what decides the batches apart from the epoch and the resume point, in
     * four 16-bit parts so that a mismatch can say which part differs ({@link #describeHashDifference}):
     * bits 48-63 the samples and the shuffle (count, seed, algorithm); 32-47 the batch sizes (batch,
     * micro-batch, ramp-up, token budget); 16-31 the ranks and policies (world size, remainder, last batch);
     * 0-15 the order inside a rank (the token plan's sort window, and a loader's bucketing window). A
     * checkpoint carries it so a resume with another configuration is refused instead of silently yielding
     * other batches. Each part misses a change with probability 2^-16.
     *
     * @return the fingerprint; equal configurations give equal values
     */
    public long configHash() {
        return configHash(0);
    }

    /**
     * {@link #configHash()} with a loader's bucketing window in the within-rank part.
     *
     * @param bucketWindow the loader's bucketing window in samples, 0 when it does not bucket
     * @return the fingerprint
     */
    public long configHash(int bucketWindow) {
        long order = part(samples ^ 0x636275626174L, seed == null ? 0 : 1, seed == null ? 0 : seed,
                ShuffleOrder.ALGORITHM.hashCode());
        long sizes = part(batchSize, microBatchSize, rampUp == null ? -1 : rampUp.start(),
                rampUp == null ? -1 : rampUp.increment(), rampUp == null ? -1 : rampUp.samples(),
                tokens == null ? -1 : tokens.maxTokens);
        long ranks = part(worldSize, rankRemainder == null ? -1 : rankRemainder.ordinal(),
                lastBatch == null ? -1 : lastBatch.ordinal());
        long within = part(sortWindow(), bucketWindow);
        return order << 48 | sizes << 32 | ranks << 16 | within;
    }

    private static long part(long... values) {
        long h = 0x9E3779B97F4A7C15L;
        for (long v : values) {
            h = ShuffleOrder.mix(h ^ v) + ShuffleOrder.GOLDEN;
        }
        return h >>> 48;
    }

    /**
     * Which parts of two {@link #configHash()} values differ, in words: "the batch sizes (batch,
     * micro-batch, ramp-up or token budget)", and so on; empty when they are equal.
     *
     * @param saved the hash from a checkpoint
     * @param current the hash of the plan resuming it
     * @return the differing parts joined by " and ", or an empty string
     */
    public static String describeHashDifference(long saved, long current) {
        String[] names = {"the order inside a rank (sort window or bucketing window)",
                "the ranks and policies (world size, --remainder, --last-batch)",
                "the batch sizes (batch, micro-batch, ramp-up or token budget)",
                "the samples or the shuffle (sample count, seed, shuffle algorithm)"};
        java.util.StringJoiner j = new java.util.StringJoiner(" and ");
        for (int i = 3; i >= 0; i--) {
            if ((saved >>> (16 * i) & 0xFFFF) != (current >>> (16 * i) & 0xFFFF)) {
                j.add(names[i]);
            }
        }
        return j.toString();
    }

    /**
     * Per-rank summary and warnings; see {@link PlanExplanation}.
     *
     * @return the explanation of this plan
     */
    public PlanExplanation explain() {
        return PlanExplanation.of(this);
    }

    /** The samples the rank policy drops from rank {@code rank} (at most one). */
    long[] rankDropped(int rank) {
        if (rankRemainder != RankRemainder.DROP) {
            return new long[0];
        }
        if (tokens != null) {
            long k = tokens.batches();
            long b = k - k % worldSize + rank;
            if (b >= k) {
                return new long[0];
            }
            long[] out = new long[(int) (tokens.bounds[(int) b + 1] - tokens.bounds[(int) b])];
            for (int i = 0; i < out.length; i++) {
                out[i] = globalOrder(tokens.position(resumeAt + tokens.bounds[(int) b] + i));
            }
            return out;
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
        long kept = partialLast(rank) ? schedule.start(schedule.stepAt(n - 1)) : n;
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
        private int microBatchSize = -1;
        private int gradientAccumulation = -1;
        private RampUp rampUp;
        private long maxTokens = -1;
        private java.util.function.LongUnaryOperator tokenLength;
        private java.util.function.LongUnaryOperator rowLength;
        private int sortWindow;
        private Integer dataParallelRank;

        private Builder() {
        }

        /**
         * Samples per micro-batch: each rank's batch at a step is {@code a} micro-batches of {@code m}
         * ({@code G = m x a x W}). Give any two of global batch size, micro-batch size and
         * {@link #gradientAccumulation}; the third is derived, and three that disagree are an error naming
         * the nearest valid values.
         *
         * @param m the micro-batch size in samples, at least 1
         * @return this builder
         */
        public Builder microBatchSize(int m) {
            this.microBatchSize = m;
            return this;
        }

        /**
         * Micro-batches per rank per step ({@code a}); see {@link #microBatchSize}.
         *
         * @param a the number of micro-batches, at least 1
         * @return this builder
         */
        public Builder gradientAccumulation(int a) {
            this.gradientAccumulation = a;
            return this;
        }

        /**
         * Grow the global batch size from {@code start} by {@code increment} over the first {@code samples}
         * consumed samples of training, with Megatron's formula ({@link RampUp}); the global batch size
         * given is the final one. Consumed samples count from the start of epoch 0: epoch {@code e}
         * starts at {@code e x samples()}.
         *
         * @param start the global batch size at the start, at least 1
         * @param increment the growth per stage, at least 1
         * @param samples the consumed samples over which the batch size grows to its final value
         * @return this builder
         */
        public Builder rampUp(long start, long increment, long samples) {
            this.rampUp = new RampUp(start, increment, samples);
            return this;
        }

        /**
         * Batches of at most {@code maxTokens} padded tokens instead of a batch size (see
         * {@code TokenBudget}): {@code length} gives a sample's real length after truncation and
         * {@code rowLength} a batch's padded row length from its longest real length (e.g.
         * {@code padding::outputLength}). Needs a {@link #rankRemainder} when the batches do not divide
         * over the ranks; {@code explain()} says what is repeated or dropped.
         *
         * @param maxTokens the most padded tokens ({@code rows x rowLength}) per batch, at least 1
         * @param length maps a sample index to its real length in tokens
         * @param rowLength maps a batch's longest real length to its padded row length
         * @return this builder
         */
        public Builder maxTokens(long maxTokens, java.util.function.LongUnaryOperator length,
                                 java.util.function.LongUnaryOperator rowLength) {
            this.maxTokens = maxTokens;
            this.tokenLength = length;
            this.rowLength = rowLength;
            return this;
        }

        /** {@link #maxTokens(long, java.util.function.LongUnaryOperator, java.util.function.LongUnaryOperator)}
         * with these lengths (already truncated), padded to the batch's longest.
         *
         * @param maxTokens the most padded tokens per batch, at least 1
         * @param lengths each sample's length in tokens, indexed by sample; copied
         * @return this builder
         */
        public Builder maxTokens(long maxTokens, long[] lengths) {
            long[] copy = lengths.clone();
            return maxTokens(maxTokens, i -> copy[(int) i], l -> l);
        }

        /**
         * {@link #maxTokens(long, java.util.function.LongUnaryOperator, java.util.function.LongUnaryOperator)}
         * with the store's lengths, truncated to {@code maxlen} when it is positive, rows padded to the
         * batch's longest (or to {@code maxlen}) rounded up to a multiple of {@code multiple} when it is
         * positive: what a loader with that padding produces.
         *
         * @param maxTokens the most padded tokens per batch, at least 1
         * @param store the dataset whose sample lengths are read
         * @param maxlen the truncation length in tokens; 0 or less for none
         * @param multiple the padded row length's multiple; 0 or less for none
         * @return this builder
         */
        public Builder maxTokens(long maxTokens, io.cubatch.store.SampleStore store, long maxlen, long multiple) {
            return maxTokens(maxTokens, i -> maxlen > 0 ? Math.min(store.length(i), maxlen) : store.length(i), l -> {
                long row = maxlen > 0 ? maxlen : l;
                return multiple > 0 && row % multiple != 0 ? row + multiple - row % multiple : row;
            });
        }

        /**
         * For a token budget: sort each window of {@code samples} consecutive positions of the global order
         * by length before cutting batches (length bucketing); 0 (default) is off.
         *
         * @param samples the window length in samples, 0 for none
         * @return this builder
         */
        public Builder sortWindow(int samples) {
            this.sortWindow = samples;
            return this;
        }

        /**
         * The data-parallel size (the plan's world size: the number of model replicas that get different
         * batches) and this process's data-parallel rank, as {@link DataParallel} resolves them with tensor
         * and pipeline parallelism.
         *
         * @param size the data-parallel size, at least 1
         * @param rank this process's data-parallel rank, in {@code [0, size)}
         * @return this builder
         */
        public Builder dataParallel(int size, int rank) {
            this.worldSize = size;
            this.dataParallelRank = rank;
            return this;
        }

        /**
         * Number of samples in the epoch, at least 1.
         *
         * @param samples the number of samples
         * @return this builder
         */
        public Builder samples(long samples) {
            this.samples = samples;
            return this;
        }

        /**
         * Samples per rank per step. Exclusive with {@link #globalBatchSize(long)}.
         *
         * @param batchSize the local batch size, at least 1
         * @return this builder
         */
        public Builder batchSize(int batchSize) {
            this.batchSize = batchSize;
            this.batchSizeGiven = true;
            return this;
        }

        /**
         * Samples per step over all ranks; the world size must divide it. Exclusive with {@link #batchSize(int)}.
         *
         * @param globalBatchSize the global batch size, a positive multiple of the world size
         * @return this builder
         */
        public Builder globalBatchSize(long globalBatchSize) {
            this.globalBatchSize = globalBatchSize;
            this.globalBatchGiven = true;
            return this;
        }

        /**
         * Number of ranks; 1 unless set.
         *
         * @param worldSize the number of ranks, at least 1
         * @return this builder
         */
        public Builder worldSize(int worldSize) {
            this.worldSize = worldSize;
            return this;
        }

        /**
         * What to do when the remaining samples do not divide over the ranks; {@link #build()} requires one then.
         *
         * @param policy the policy, or null for none
         * @return this builder
         */
        public Builder rankRemainder(RankRemainder policy) {
            this.rankRemainder = policy;
            return this;
        }

        /**
         * What to do with a rank's last batch when it is not full; {@link #build()} requires one then.
         *
         * @param policy the policy, or null for none
         * @return this builder
         */
        public Builder lastBatch(LastBatch policy) {
            this.lastBatch = policy;
            return this;
        }

        /**
         * Shuffle with this seed (see {@link ShuffleOrder}); unshuffled unless called.
         *
         * @param seed the shuffle seed, any value
         * @return this builder
         */
        public Builder shuffle(long seed) {
            this.seed = seed;
            return this;
        }

        /**
         * The epoch, at least 0; it changes the shuffled order.
         *
         * @param epoch the epoch, at least 0
         * @return this builder
         */
        public Builder epoch(long epoch) {
            this.epoch = epoch;
            return this;
        }

        /**
         * Start after this many samples of the epoch's global order, in [0, samples].
         *
         * @param consumedSamples samples of the global order already consumed, in {@code [0, samples]}
         * @return this builder
         */
        public Builder resumeAt(long consumedSamples) {
            this.resumeAt = consumedSamples;
            return this;
        }

        /**
         * Marks an evaluation plan: repeated samples then get a warning, since they skew metrics.
         *
         * @param evaluation true for an evaluation plan
         * @return this builder
         */
        public Builder evaluation(boolean evaluation) {
            this.evaluation = evaluation;
            return this;
        }

        /**
         * Validates and builds.
         *
         * @return the plan
         * @throws PlanException naming the value, the valid range and the fix, when the numbers do not
         *                       make a plan or a needed policy is missing
         */
        public BatchPlan build() {
            if (samples < 1 || samples > ShuffleOrder.MAX_SAMPLES) {
                throw new PlanException(samples == -1
                        ? "the number of samples is required: set samples(n) (CLI: --samples N)"
                        : "samples must be in [1, 2^62], got " + samples + (samples < 1
                                ? ": a plan needs at least one sample (is the dataset empty?)"
                                : ": the shuffle's domain holds at most 2^62 samples; split the dataset into epochs or shards"));
            }
            if (worldSize < 1) {
                throw new PlanException("world size must be at least 1, got " + worldSize
                        + ": pass the number of ranks (processes) taking part");
            }
            if (dataParallelRank != null && (dataParallelRank < 0 || dataParallelRank >= worldSize)) {
                throw new PlanException("data-parallel rank " + dataParallelRank + " is outside [0, " + (worldSize - 1)
                        + "] for data-parallel size " + worldSize);
            }
            if (maxTokens != -1) {
                checkTokenOptions();
            } else {
                resolveBatchSize();
                if (batchSize > MAX_BATCH_SIZE) {   // a batch is one long[]: the JVM's arrays stop just short of 2^31
                    throw new PlanException("per-rank batch size " + batchSize + " is more than the " + MAX_BATCH_SIZE
                            + " samples one batch can hold: use a smaller batch size, or more ranks");
                }
                resolveMicroBatches();
            }
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
            if (maxTokens != -1) {
                return buildTokens();
            }
            long rankRem = remaining % worldSize;
            if (rankRem != 0 && rankRemainder == null) {
                throw new PlanException(Remainders.missingRankRemainder(this, remaining));
            }
            long slots = rankRem == 0 ? remaining : switch (rankRemainder) {
                case PAD -> remaining + worldSize - rankRem;
                case DROP -> remaining - rankRem;
                case PARTIAL -> remaining;
            };
            StepSchedule schedule = rampUp == null ? StepSchedule.constant(batchSize)
                    : StepSchedule.ramp(rampUp, (long) batchSize * worldSize, trainingConsumed(), worldSize,
                            microBatchSize == batchSize ? 1 : microBatchSize, slots);   // no micro-batches: W divides
            BatchPlan plan = new BatchPlan(this, rankRemainder, slots, schedule, null);
            if (lastBatch == null && (plan.partialLast(0) || plan.partialLast(worldSize - 1))) {
                throw new PlanException(Remainders.missingLastBatch(plan));
            }
            return plan;
        }

        /** Samples of training consumed where this plan starts: epoch x samples + resumeAt (saturating). */
        private long trainingConsumed() {
            long e = Math.multiplyHigh(epoch, samples) != 0 ? Long.MAX_VALUE : epoch * samples;
            return e > Long.MAX_VALUE - resumeAt ? Long.MAX_VALUE : e + resumeAt;
        }

        private void checkTokenOptions() {
            if (maxTokens < 1) {
                throw new PlanException("--max-tokens must be a positive number of padded tokens per batch, got "
                        + maxTokens);
            }
            if (batchSizeGiven || globalBatchGiven || microBatchSize != -1 || gradientAccumulation != -1 || rampUp != null) {
                throw new PlanException("--max-tokens sets the batches by tokens: drop --batch-size,"
                        + " --global-batch-size, --micro-batch-size, --grad-accumulation and --rampup-batch-size");
            }
            if (lastBatch != null) {
                throw new PlanException("--last-batch " + lastBatch.cliName() + " has no meaning with --max-tokens:"
                        + " token batches are never partial; drop --last-batch (--remainder decides what happens to"
                        + " batches that do not divide over the ranks)");
            }
            if (sortWindow < 0 || sortWindow >= 1 << 24) {
                throw new PlanException("--sort-window " + sortWindow + " must be in [0, 16777215] samples (0: off)");
            }
        }

        private BatchPlan buildTokens() {
            ShuffleOrder o = seed == null ? null : new ShuffleOrder(samples, seed, epoch);
            java.util.function.LongUnaryOperator order = o == null ? p -> p : o::sampleAt;
            TokenBudget t = TokenBudget.cut(samples, resumeAt, maxTokens, sortWindow, order, tokenLength, rowLength);
            long k = t.batches();
            if (k % worldSize != 0 && rankRemainder == null) {
                long rem = k % worldSize;
                throw new PlanException("the " + k + " batches of at most " + maxTokens + " tokens do not divide over "
                        + worldSize + " ranks (" + k + " = " + worldSize + " x " + k / worldSize + " + " + rem
                        + "): choose what happens to the last " + rem + " (CLI --remainder pad|drop|partial):"
                        + " pad repeats batches 0.." + (worldSize - rem - 1) + " on the ranks short of one, every rank"
                        + " runs " + (k / worldSize + 1) + " steps; drop drops those " + rem + " batches, every rank"
                        + " runs " + k / worldSize + " steps; partial leaves ranks " + rem + ".." + (worldSize - 1)
                        + " a step short (collectives hang)");
            }
            batchSize = (int) Math.max(1, Math.min(Integer.MAX_VALUE, t.longestRows));
            microBatchSize = batchSize;
            return new BatchPlan(this, rankRemainder, samples - resumeAt, null, t);
        }

        /** Micro-batch size and accumulation from any two of global, micro, accumulation (and the local size). */
        private void resolveMicroBatches() {
            if (microBatchSize == -1 && gradientAccumulation == -1) {
                microBatchSize = batchSize;
            } else {
                if (microBatchSize != -1 && microBatchSize < 1 || gradientAccumulation != -1 && gradientAccumulation < 1) {
                    throw new PlanException(microBatchSize != -1 && microBatchSize < 1
                            ? "micro batch size must be a positive integer, got " + microBatchSize
                            : "gradient accumulation must be a positive integer (micro-batches per step), got "
                                    + gradientAccumulation);
                }
                if (microBatchSize == -1) {
                    if (batchSize % gradientAccumulation != 0) {
                        int below = batchSize / gradientAccumulation * gradientAccumulation;
                        throw new PlanException("a per-rank batch of " + batchSize + " (" + globalOrLocal()
                                + ") does not split into " + gradientAccumulation + " equal micro-batches: use a "
                                + (globalBatchGiven ? "global batch size of " + (long) below * worldSize + " or "
                                + (long) (below + gradientAccumulation) * worldSize : "batch size of "
                                + (below > 0 ? below + " or " : "") + (below + gradientAccumulation))
                                + ", or --grad-accumulation " + nearestDivisors(batchSize, gradientAccumulation));
                    }
                    microBatchSize = batchSize / gradientAccumulation;
                } else if (gradientAccumulation == -1) {
                    if (batchSize % microBatchSize != 0) {
                        long unit = (long) microBatchSize * worldSize;
                        long g = (long) batchSize * worldSize;
                        long below = g / unit * unit;
                        throw new PlanException("global batch size " + g + " is not divisible by micro batch size "
                                + microBatchSize + " times data-parallel size " + worldSize + " (" + unit + "): use a"
                                + " global batch size of " + (below > 0 ? below + " or " : "") + (below + unit)
                                + ", or --micro-batch-size " + nearestDivisors(batchSize, microBatchSize));
                    }
                } else if ((long) microBatchSize * gradientAccumulation != batchSize) {
                    long g = (long) microBatchSize * gradientAccumulation * worldSize;
                    throw new PlanException("micro batch size " + microBatchSize + " x gradient accumulation "
                            + gradientAccumulation + " x data-parallel size " + worldSize + " = " + g
                            + ", but the global batch size is " + (long) batchSize * worldSize + ": use --global-batch-size "
                            + g + ", or give only two of --global-batch-size, --micro-batch-size and --grad-accumulation"
                            + (batchSize % microBatchSize == 0 ? " (--grad-accumulation " + batchSize / microBatchSize
                            + " fits)" : ""));
                }
            }
            if (rampUp != null) {
                rampUp.validate((long) batchSize * worldSize);
            }
        }

        private String globalOrLocal() {
            return globalBatchGiven ? "global " + (long) batchSize * worldSize + " over " + worldSize + " ranks"
                    : "--batch-size";
        }

        /** "4 or 8": the divisors of n nearest to k. */
        private static String nearestDivisors(int n, int k) {
            int lo = Math.min(k, n);
            while (n % lo != 0) {
                lo--;
            }
            int hi = k;
            while (hi <= n && n % hi != 0) {
                hi++;
            }
            return hi <= n && hi != lo ? lo + " or " + hi : Integer.toString(lo);
        }

        private void resolveBatchSize() {
            if (batchSizeGiven && globalBatchGiven) {
                throw new PlanException("give the batch size once: either per rank (batchSize, CLI --batch-size)"
                        + " or global (globalBatchSize, CLI --global-batch-size), not both");
            }
            if (!batchSizeGiven && !globalBatchGiven && microBatchSize > 0) {
                long b = (long) microBatchSize * (gradientAccumulation > 0 ? gradientAccumulation : 1);
                if (b > Integer.MAX_VALUE) {
                    throw new PlanException("micro batch size " + microBatchSize + " x gradient accumulation "
                            + gradientAccumulation + " exceeds " + Integer.MAX_VALUE + " samples per rank");
                }
                batchSize = (int) b;
                return;
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
            long microUnit = microBatchSize > 0 && gradientAccumulation == -1 ? (long) microBatchSize * worldSize : 0;
            if (microUnit > 0 && globalBatchSize % microUnit != 0) {
                long below = globalBatchSize / microUnit * microUnit;
                throw new PlanException("global batch size " + globalBatchSize + " is not divisible by micro batch size "
                        + microBatchSize + " times data-parallel size " + worldSize + " (" + microUnit + "): use a"
                        + " global batch size of " + (below > 0 ? below + " or " : "") + (below + microUnit)
                        + ", or another --micro-batch-size");
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
            c.microBatchSize = microBatchSize;
            c.gradientAccumulation = -1;
            c.rampUp = rampUp;
            c.maxTokens = maxTokens;
            c.tokenLength = tokenLength;
            c.rowLength = rowLength;
            c.sortWindow = sortWindow;
            c.dataParallelRank = dataParallelRank;
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
