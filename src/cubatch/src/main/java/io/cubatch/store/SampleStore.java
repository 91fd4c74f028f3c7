package io.cubatch.store;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.reflect.Array;
import java.util.Arrays;
import java.util.OptionalLong;

/**
 * N samples held off-heap, each a sequence of timesteps, each timestep a scalar or a fixed feature
 * vector. Two shapes:
 * <ul>
 *   <li><b>fixed</b>: every sample has the same number of timesteps {@code L}; sample {@code i} starts at
 *       timestep {@code i * L} (a {@code .npy} array of shape {@code [N, L]} or {@code [N, L, F...]});</li>
 *   <li><b>ragged</b>: sample {@code i} spans timesteps {@code [offsets[i], offsets[i+1])} of the values,
 *       with {@code offsets} an int64 array of {@code N + 1} entries, starting at 0, non-decreasing.</li>
 * </ul>
 * A ragged store may be <b>chunked</b> ({@link #isContiguous()} false): its samples live in several buffers of
 * one mapping (the record batches of an Arrow file), served in place, without concatenation. Then
 * {@link #values()} spans all the chunks (the bytes between them included), {@link #offset(long)} is where
 * sample {@code i} starts within it, and {@link #offsets()} still holds the int64 prefix sums of the lengths
 * ({@code length(i) = offsets[i+1] - offsets[i]}), which are not positions in {@code values()}.
 * All indexing is 64-bit: more than 2<sup>31</sup> samples, timesteps or bytes work.
 *
 * <p>One owner: a store made by a reader or a builder owns its memory (mapping or allocation) and frees
 * it in {@link #close()}; a store {@linkplain #wrapRagged wrapping} caller segments borrows them and
 * leaves them to their owner. After {@code close()} every accessor throws {@link IllegalStateException}.
 * Reading is thread-safe. Closing while another thread reads is safe too: Java reads then fail with an
 * IllegalStateException, and a native call that holds the memory (a pad of the native backend) is waited
 * for, then the memory is freed; it is never left allocated. (A pad checks that the store is open when it
 * starts; over a store that borrows its segments, which close() does not free, a pad already started may
 * finish.)
 */
public final class SampleStore implements AutoCloseable {
    private static final ValueLayout.OfLong OFFSET = ValueLayout.JAVA_LONG_UNALIGNED;

    private final DType dtype;
    private final long samples;
    private final long[] featureShape;
    private final long features;
    private final long fixedTimesteps;       // -1 when ragged
    private final MemorySegment values;
    private final MemorySegment offsets;     // null when fixed
    private final MemorySegment starts;      // int64 [N] start of each sample in values when chunked, else null
    private final MemorySegment documents;   // int64 [D+1] sequence indices, or null
    private final String source;
    private final Arena owner;               // null when borrowed
    private MappedFile[] mappedFiles = {};   // the files a reader mapped, set once before the store is shared
    private long chunks = 1;                 // buffers a chunked store spans, set once before the store is shared
    private volatile boolean closed;

    private SampleStore(DType dtype, long samples, long[] featureShape, long fixedTimesteps, MemorySegment values,
                        MemorySegment offsets, MemorySegment documents, String source, Arena owner) {
        this(dtype, samples, featureShape, fixedTimesteps, values, offsets, null, documents, source, owner);
    }

    private SampleStore(DType dtype, long samples, long[] featureShape, long fixedTimesteps, MemorySegment values,
                        MemorySegment offsets, MemorySegment starts, MemorySegment documents, String source,
                        Arena owner) {
        this.starts = starts;
        this.dtype = dtype;
        this.samples = samples;
        this.featureShape = featureShape.clone();
        this.features = product(featureShape);
        this.fixedTimesteps = fixedTimesteps;
        this.values = values;
        this.offsets = offsets;
        this.documents = documents;
        this.source = source;
        this.owner = owner;
    }

    // ---- construction ----------------------------------------------------------------------------------

    /** A fixed-shape store over values that {@code owner} (or, when null, the caller) owns. Validated. */
    static SampleStore fixed(DType dtype, long samples, long timesteps, long[] featureShape, MemorySegment values,
                             String source, Arena owner) {
        requireBytes(values, bytes(dtype, samples, timesteps, featureShape), "values");
        return new SampleStore(dtype, samples, featureShape, timesteps, values, null, null, source, owner);
    }

    /**
     * A ragged store over offsets its caller computed itself, monotonic by construction (the readers
     * derive them from validated lengths): only the sizes are checked, not every offset again.
     */
    static SampleStore raggedFromComputedOffsets(DType dtype, long[] featureShape, MemorySegment values,
                                                 MemorySegment offsets, MemorySegment documents, String source,
                                                 Arena owner) {
        long n = offsets.byteSize() / 8 - 1;
        long last = offsets.get(OFFSET, n * 8);
        requireBytes(values, bytes(dtype, 1, last, featureShape), "values");
        return new SampleStore(dtype, n, featureShape, -1, values, offsets, documents, source, owner);
    }

    /**
     * A chunked ragged store: sample {@code i} is the {@code offsets[i+1] - offsets[i]} timesteps of
     * {@code values} from timestep {@code starts[i]}. Its caller computed both from validated chunks: checked
     * here are the sizes and that every sample lies within {@code values}.
     */
    static SampleStore chunkedFromComputedOffsets(DType dtype, MemorySegment values, MemorySegment offsets,
                                                  MemorySegment starts, String source, Arena owner) {
        long n = offsets.byteSize() / 8 - 1;
        if (starts.byteSize() != n * 8) {
            throw new IllegalArgumentException("starts must hold N = " + n + " int64 values, got " + starts.byteSize()
                    + " bytes");
        }
        long capacity = values.byteSize() / dtype.byteSize();
        for (long i = 0; i < n; i++) {
            long start = starts.get(OFFSET, i * 8);
            long length = offsets.get(OFFSET, (i + 1) * 8) - offsets.get(OFFSET, i * 8);
            if (start < 0 || length < 0 || start > capacity - length) {
                throw new IllegalArgumentException("insufficient capacity: sample " + i + " spans timesteps [" + start
                        + ", " + start + " + " + length + ") of values holding " + capacity);
            }
        }
        return new SampleStore(dtype, n, new long[0], -1, values, offsets, starts, null, source, owner);
    }

    /** A ragged store over values and offsets that {@code owner} (or, when null, the caller) owns. */
    static SampleStore ragged(DType dtype, long[] featureShape, MemorySegment values, MemorySegment offsets,
                              MemorySegment documents, String source, Arena owner) {
        if (offsets.byteSize() % 8 != 0 || offsets.byteSize() < 8) {
            throw new IllegalArgumentException("offsets must hold N + 1 >= 1 int64 values, got "
                    + offsets.byteSize() + " bytes");
        }
        long n = offsets.byteSize() / 8 - 1;
        long previous = offsets.get(OFFSET, 0);
        if (previous != 0) {
            throw new IllegalArgumentException("offsets[0] must be 0, got " + previous);
        }
        for (long i = 1; i <= n; i++) {
            long o = offsets.get(OFFSET, i * 8);
            if (o < previous) {
                throw new IllegalArgumentException("offsets must be non-decreasing: offsets[" + (i - 1) + "]="
                        + previous + " > offsets[" + i + "]=" + o);
            }
            previous = o;
        }
        requireBytes(values, bytes(dtype, 1, previous, featureShape), "values");
        return new SampleStore(dtype, n, featureShape, -1, values, offsets, documents, source, owner);
    }

    /**
     * A ragged store over caller-owned segments, without copying: {@code offsets} holds {@code N + 1} int64
     * timestep offsets (0 first, non-decreasing), {@code values} at least {@code offsets[N] * features}
     * elements. The caller keeps ownership; closing the store does not free them.
     *
     * @param featureShape per-timestep feature shape: {@code []} for scalar timesteps, {@code [F]} for vectors
     * @param dtype the element type of {@code values}
     * @param values the timesteps of all samples back to back, little-endian; borrowed
     * @param offsets the {@code N + 1} int64 offsets, in timesteps; borrowed
     * @return a store that reads the segments in place and frees nothing on close
     * @throws IllegalArgumentException naming the first inconsistent offset or the size shortfall
     */
    public static SampleStore wrapRagged(DType dtype, long[] featureShape, MemorySegment values, MemorySegment offsets) {
        checkShape(featureShape);
        return ragged(dtype, featureShape, values, offsets, null, "caller segments", null);
    }

    /**
     * A ragged store that takes ownership of {@code owner}: closing the store closes the arena (which must
     * hold {@code values} and {@code offsets}). For producers of off-heap data outside this package, such
     * as generated corpora. Validated as {@link #wrapRagged}.
     *
     * @param dtype the element type of {@code values}
     * @param featureShape per-timestep feature shape: {@code []} for scalar timesteps, {@code [F]} for vectors
     * @param values the timesteps of all samples back to back, little-endian, allocated in {@code owner}
     * @param offsets the {@code N + 1} int64 offsets, in timesteps, allocated in {@code owner}
     * @param source where the samples came from, for messages and {@link #source()}
     * @param owner the arena holding both segments, closed by {@link #close()}; not null
     * @return the store, owning {@code owner}
     * @throws IllegalArgumentException naming the first inconsistent offset or the size shortfall (the arena then stays
     *     the caller's)
     * @throws NullPointerException when {@code owner} is null
     */
    public static SampleStore adoptRagged(DType dtype, long[] featureShape, MemorySegment values, MemorySegment offsets,
                                          String source, Arena owner) {
        checkShape(featureShape);
        return ragged(dtype, featureShape, values, offsets, null, source, java.util.Objects.requireNonNull(owner));
    }

    /**
     * A fixed-shape store over caller-owned values: {@code samples * timesteps * features} elements.
     *
     * @param dtype the element type of {@code values}
     * @param samples the number of samples N, at least 0
     * @param timesteps the timesteps L of every sample, at least 0
     * @param featureShape per-timestep feature shape: {@code []} for scalar timesteps, {@code [F]} for vectors
     * @param values at least {@code N x L x features} little-endian elements, sample-major; borrowed
     * @return a store that reads {@code values} in place and frees nothing on close
     * @throws IllegalArgumentException when a size is negative or {@code values} is too small, naming both sizes
     */
    public static SampleStore wrapFixed(DType dtype, long samples, long timesteps, long[] featureShape,
                                        MemorySegment values) {
        checkShape(featureShape);
        if (samples < 0 || timesteps < 0) {
            throw new IllegalArgumentException("samples and timesteps must be >= 0, got " + samples + " and " + timesteps);
        }
        return fixed(dtype, samples, timesteps, featureShape, values, "caller segments", null);
    }

    /**
     * A ragged store of int32 scalar timesteps, copied off-heap from the arrays into memory the store owns.
     *
     * @param sequences one array per sample (an empty array for an empty sample); not null
     * @return the store, of {@link DType#INT32}
     * @throws IllegalArgumentException when a sample is null
     */
    public static SampleStore of(int[][] sequences) {
        return copyOf(DType.INT32, ValueLayout.JAVA_INT, sequences, false);
    }

    /**
     * A ragged store of int64 scalar timesteps, copied off-heap into memory the store owns.
     *
     * @param sequences one array per sample (an empty array for an empty sample); not null
     * @return the store, of {@link DType#INT64}
     * @throws IllegalArgumentException when a sample is null
     */
    public static SampleStore of(long[][] sequences) {
        return copyOf(DType.INT64, ValueLayout.JAVA_LONG, sequences, false);
    }

    /**
     * A ragged store of int16 scalar timesteps, copied off-heap into memory the store owns.
     *
     * @param sequences one array per sample (an empty array for an empty sample); not null
     * @return the store, of {@link DType#INT16}
     * @throws IllegalArgumentException when a sample is null
     */
    public static SampleStore of(short[][] sequences) {
        return copyOf(DType.INT16, ValueLayout.JAVA_SHORT, sequences, false);
    }

    /**
     * A ragged store of int8 scalar timesteps, copied off-heap into memory the store owns.
     *
     * @param sequences one array per sample (an empty array for an empty sample); not null
     * @return the store, of {@link DType#INT8}
     * @throws IllegalArgumentException when a sample is null
     */
    public static SampleStore of(byte[][] sequences) {
        return copyOf(DType.INT8, ValueLayout.JAVA_BYTE, sequences, false);
    }

    /**
     * A ragged store of float32 scalar timesteps, copied off-heap into memory the store owns.
     *
     * @param sequences one array per sample (an empty array for an empty sample); not null
     * @return the store, of {@link DType#FLOAT32}
     * @throws IllegalArgumentException when a sample is null
     */
    public static SampleStore of(float[][] sequences) {
        return copyOf(DType.FLOAT32, ValueLayout.JAVA_FLOAT, sequences, false);
    }

    /**
     * A ragged store of float64 scalar timesteps, copied off-heap into memory the store owns.
     *
     * @param sequences one array per sample (an empty array for an empty sample); not null
     * @return the store, of {@link DType#FLOAT64}
     * @throws IllegalArgumentException when a sample is null
     */
    public static SampleStore of(double[][] sequences) {
        return copyOf(DType.FLOAT64, ValueLayout.JAVA_DOUBLE, sequences, false);
    }

    /**
     * Samples of {@code [L][F]} timesteps with F features each; F is the same for every timestep.
     *
     * @param sequences one {@code [L][F]} array per sample, copied off-heap into memory the store owns
     * @return the store, of {@link DType#INT32} with feature shape {@code [F]}
     * @throws IllegalArgumentException when a sample or timestep is null or the widths differ, naming the timestep
     */
    public static SampleStore of(int[][][] sequences) {
        return copyOf(DType.INT32, ValueLayout.JAVA_INT, sequences, true);
    }

    /**
     * As {@link #of(int[][][])}, for int64 features.
     *
     * @param sequences one {@code [L][F]} array per sample, copied off-heap into memory the store owns
     * @return the store, of {@link DType#INT64} with feature shape {@code [F]}
     * @throws IllegalArgumentException when a sample or timestep is null or the widths differ, naming the timestep
     */
    public static SampleStore of(long[][][] sequences) {
        return copyOf(DType.INT64, ValueLayout.JAVA_LONG, sequences, true);
    }

    /**
     * As {@link #of(int[][][])}, for int16 features.
     *
     * @param sequences one {@code [L][F]} array per sample, copied off-heap into memory the store owns
     * @return the store, of {@link DType#INT16} with feature shape {@code [F]}
     * @throws IllegalArgumentException when a sample or timestep is null or the widths differ, naming the timestep
     */
    public static SampleStore of(short[][][] sequences) {
        return copyOf(DType.INT16, ValueLayout.JAVA_SHORT, sequences, true);
    }

    /**
     * As {@link #of(int[][][])}, for int8 features.
     *
     * @param sequences one {@code [L][F]} array per sample, copied off-heap into memory the store owns
     * @return the store, of {@link DType#INT8} with feature shape {@code [F]}
     * @throws IllegalArgumentException when a sample or timestep is null or the widths differ, naming the timestep
     */
    public static SampleStore of(byte[][][] sequences) {
        return copyOf(DType.INT8, ValueLayout.JAVA_BYTE, sequences, true);
    }

    /**
     * As {@link #of(int[][][])}, for float32 features.
     *
     * @param sequences one {@code [L][F]} array per sample, copied off-heap into memory the store owns
     * @return the store, of {@link DType#FLOAT32} with feature shape {@code [F]}
     * @throws IllegalArgumentException when a sample or timestep is null or the widths differ, naming the timestep
     */
    public static SampleStore of(float[][][] sequences) {
        return copyOf(DType.FLOAT32, ValueLayout.JAVA_FLOAT, sequences, true);
    }

    /**
     * As {@link #of(int[][][])}, for float64 features.
     *
     * @param sequences one {@code [L][F]} array per sample, copied off-heap into memory the store owns
     * @return the store, of {@link DType#FLOAT64} with feature shape {@code [F]}
     * @throws IllegalArgumentException when a sample or timestep is null or the widths differ, naming the timestep
     */
    public static SampleStore of(double[][][] sequences) {
        return copyOf(DType.FLOAT64, ValueLayout.JAVA_DOUBLE, sequences, true);
    }

    /** Copies Java arrays (each element a primitive array, or with features an array of them) off-heap. */
    private static SampleStore copyOf(DType dtype, ValueLayout layout, Object[] sequences, boolean withFeatures) {
        long totalSteps = 0;
        int width = -1;
        for (int i = 0; i < sequences.length; i++) {
            Object seq = sequences[i];
            if (seq == null) {
                throw new IllegalArgumentException("sample " + i + " is null; use an empty array for an empty sequence");
            }
            int len = Array.getLength(seq);
            totalSteps += len;
            if (withFeatures) {
                for (int t = 0; t < len; t++) {
                    Object step = Array.get(seq, t);
                    int w = step == null ? -1 : Array.getLength(step);
                    if (width == -1) {
                        width = w;
                    }
                    if (w != width || w < 0) {
                        throw new IllegalArgumentException("sample " + i + " timestep " + t + " has " + w
                                + " features, expected " + width + " (the width of the first timestep):"
                                + " every timestep needs the same number of features");
                    }
                }
            }
        }
        long[] featureShape = withFeatures ? new long[] {Math.max(width, 0)} : new long[0];
        long f = product(featureShape);
        Arena arena = Arena.ofShared();
        try {
            MemorySegment values = arena.allocate(Math.max(1, totalSteps * f * dtype.byteSize()), 16)
                    .asSlice(0, totalSteps * f * dtype.byteSize());
            MemorySegment offsets = arena.allocate((sequences.length + 1L) * 8, 8);
            long step = 0;
            for (int i = 0; i < sequences.length; i++) {
                offsets.set(OFFSET, i * 8L, step);
                Object seq = sequences[i];
                int len = Array.getLength(seq);
                if (withFeatures) {
                    for (int t = 0; t < len; t++) {
                        MemorySegment.copy(Array.get(seq, t), 0, values, layout, (step + t) * f * dtype.byteSize(), (int) f);
                    }
                } else {
                    MemorySegment.copy(seq, 0, values, layout, step * dtype.byteSize(), len);
                }
                step += len;
            }
            offsets.set(OFFSET, sequences.length * 8L, step);
            return new SampleStore(dtype, sequences.length, featureShape, -1, values, offsets, null,
                    "Java arrays", arena);
        } catch (RuntimeException | Error e) {
            arena.close();
            throw e;
        }
    }

    /**
     * The element type of the values.
     *
     * @return the dtype; readable after close
     */
    // ---- access --------------------------------------------------------------------------------------------

    public DType dtype() {
        return dtype;
    }

    /**
     * Number of samples N.
     *
     * @return N, at least 0
     * @throws IllegalStateException when the store is closed
     */
    public long size() {
        checkOpen();
        return samples;
    }

    /**
     * True for a ragged store (per-sample lengths from offsets), false for a fixed-shape one.
     *
     * @return true when ragged
     */
    public boolean isRagged() {
        return offsets != null;
    }

    /**
     * Shape of one timestep: {@code []} for scalars, {@code [F]} (or more dimensions) for feature vectors.
     *
     * @return a copy of the feature shape
     */
    public long[] featureShape() {
        return featureShape.clone();
    }

    /**
     * Elements per timestep: the product of {@link #featureShape()}, 1 for scalars.
     *
     * @return the number of elements per timestep, at least 0
     */
    public long features() {
        return features;
    }

    /**
     * Timesteps of sample {@code i}.
     *
     * @param i the sample, in {@code [0, size())}
     * @return the sample's length in timesteps
     * @throws IndexOutOfBoundsException when {@code i} is outside {@code [0, size())}
     * @throws IllegalStateException when the store is closed
     */
    public long length(long i) {
        checkIndex(i);
        return offsets == null ? fixedTimesteps : offsets.get(OFFSET, (i + 1) * 8) - offsets.get(OFFSET, i * 8);
    }

    /**
     * First timestep of sample {@code i} within {@link #values()}. For {@code i = N} (allowed) the timesteps
     * over all samples, as {@link #totalTimesteps()}.
     *
     * @param i the sample, in {@code [0, size()]}
     * @return the offset in timesteps (of {@code features()} elements each)
     * @throws IndexOutOfBoundsException when {@code i} is outside {@code [0, size()]}
     * @throws IllegalStateException when the store is closed
     */
    public long offset(long i) {
        if (i != samples) {
            checkIndex(i);
        }
        checkOpen();
        if (starts != null && i != samples) {
            return starts.get(OFFSET, i * 8);
        }
        return offsets == null ? i * fixedTimesteps : offsets.get(OFFSET, i * 8);
    }

    /**
     * Timesteps over all samples.
     *
     * @return the total timesteps (for a chunked store, the sum of the lengths)
     * @throws IllegalStateException when the store is closed
     */
    public long totalTimesteps() {
        return offset(samples);
    }

    /**
     * True when sample {@code i + 1} starts where sample {@code i} ends, so that {@link #offsets()} are also the
     * positions in {@link #values()}; false for a chunked store (an Arrow file of several record batches).
     *
     * @return true unless chunked
     */
    public boolean isContiguous() {
        return starts == null;
    }

    /**
     * The number of distinct buffers a chunked store serves in place (1 when contiguous).
     *
     * @return the number of buffers, at least 1
     */
    public long chunks() {
        return chunks;
    }

    /** Records how many buffers a chunked store spans (for {@link #chunks()}); readers call it once. */
    SampleStore chunks(long count) {
        this.chunks = count;
        return this;
    }

    /**
     * All values, samples back to back, little-endian elements of {@link #dtype()}.
     *
     * @return the values segment; valid until {@link #close()} when the store owns it, else while its owner keeps it
     * @throws IllegalStateException when the store is closed
     */
    public MemorySegment values() {
        checkOpen();
        return values;
    }

    /**
     * Sample {@code i}'s values: {@code length(i) * features()} elements.
     *
     * @param i the sample, in {@code [0, size())}
     * @return a slice of {@link #values()}, not a copy
     * @throws IndexOutOfBoundsException when {@code i} is outside {@code [0, size())}
     * @throws IllegalStateException when the store is closed
     */
    public MemorySegment sample(long i) {
        long bytesPerStep = features * dtype.byteSize();
        return values().asSlice(offset(i) * bytesPerStep, length(i) * bytesPerStep);
    }

    /**
     * The int64 timestep offsets ({@code N + 1} of them) of a ragged store; empty for a fixed one. For a
     * chunked store ({@link #isContiguous()} false) they give the lengths only; {@link #offset(long)} gives
     * the positions in {@link #values()}.
     *
     * @return the offsets segment, or empty for a fixed store
     * @throws IllegalStateException when the store is closed
     */
    public java.util.Optional<MemorySegment> offsets() {
        checkOpen();
        return java.util.Optional.ofNullable(offsets);
    }

    /**
     * The segment {@link #offsets()} holds, without the {@code Optional}: for code that reads it once per batch
     * and must allocate nothing (the collators; an {@code Optional} is not always scalar-replaced there).
     *
     * @return the int64 offsets of a ragged store, or {@link MemorySegment#NULL} for a fixed one
     * @throws IllegalStateException when the store is closed
     */
    public MemorySegment offsetsSegment() {
        checkOpen();
        return offsets == null ? MemorySegment.NULL : offsets;
    }

    /**
     * Documents, for datasets that group sequences into documents (Megatron); empty otherwise.
     *
     * @return the number of documents D, or empty
     * @throws IllegalStateException when the store is closed
     */
    public OptionalLong documents() {
        checkOpen();
        return documents == null ? OptionalLong.empty() : OptionalLong.of(documents.byteSize() / 8 - 1);
    }

    /**
     * Index of the first sequence of document {@code d}; {@code documentStart(d + 1)} ends it.
     *
     * @param d the document, in {@code [0, documents()]}
     * @return the index of its first sequence
     * @throws IllegalStateException when the store has no documents or is closed
     * @throws IndexOutOfBoundsException when {@code d} is outside {@code [0, documents()]}
     */
    public long documentStart(long d) {
        long count = documents().orElseThrow(() -> new IllegalStateException(source + " has no documents"));
        if (d < 0 || d > count) {
            throw new IndexOutOfBoundsException("document " + d + " outside [0, " + count + "]");
        }
        return documents.get(OFFSET, d * 8);
    }

    /** Records the files this store maps, for {@link #checkMappedFiles()}; readers call it once. */
    SampleStore mapping(MappedFile... files) {
        this.mappedFiles = files.clone();
        return this;
    }

    /**
     * Checks that the files this store maps still hold every byte they held when opened (a stat per file,
     * about a microsecond). A read from a mapping past the end of a file that shrank (truncated, or rewritten
     * in place) raises SIGBUS: the JDK turns it into an {@link InternalError} in Java code, but in native
     * code (the {@code native} backend) it kills the JVM. The loader calls this before every batch. It
     * cannot see a file that shrinks after the check, during the read: do not modify a dataset in place while
     * it is open; write a new file and rename it over the old one (the open mapping keeps the old file).
     * Stores not read from files pass.
     *
     * @throws java.io.UncheckedIOException wrapping a {@link DatasetFormatException} that names the file, its
     *                                      size now and when it was opened
     */
    public void checkMappedFiles() {
        checkOpen();
        for (MappedFile f : mappedFiles) {
            f.check();
        }
    }

    /**
     * Where the samples came from (a path and format, or "Java arrays").
     *
     * @return the source description; readable after close
     */
    public String source() {
        return source;
    }

    /**
     * Whether {@link #close()} has begun.
     *
     * @return true once closing started, even when the close then failed and the store stayed open
     */
    public boolean isClosed() {
        return closed;
    }

    /** How long {@link #close()} waits for native calls that hold the store's memory: they take milliseconds. */
    static final long CLOSE_WAIT_NANOS = 60_000_000_000L;

    /**
     * Frees what the store owns (mapping or allocation); idempotent. Borrowed segments are left alone. Accessors
     * throw from the moment close begins. When a native call on another thread holds the memory (a pad of
     * the native backend), close waits for it to return, then frees: the memory never stays allocated.
     *
     * @throws IllegalStateException when the memory is still held after {@link #CLOSE_WAIT_NANOS} (a native
     *                               call that does not return), or cannot be closed from this thread; the
     *                               store then stays open, and a later close frees it
     */
    @Override
    public void close() {
        synchronized (this) {
            if (closed) {
                return;
            }
            closed = true;
        }
        if (owner == null) {
            return;
        }
        try {
            closeWhenReleased(owner, source);
        } catch (RuntimeException e) {
            closed = false;
            throw e;
        }
    }

    /**
     * Closes {@code arena}, retrying while a native call holds it ("Session is acquired by N clients"): those
     * calls return on their own, in the time one batch takes.
     */
    private static void closeWhenReleased(Arena arena, String what) {
        long start = System.nanoTime();
        for (int attempt = 0; ; attempt++) {
            try {
                arena.close();
                return;
            } catch (IllegalStateException held) {
                if (!arena.scope().isAlive()) {
                    return;
                }
                if (System.nanoTime() - start > CLOSE_WAIT_NANOS) {
                    throw new IllegalStateException("SampleStore over " + what + " is still held by a native call after "
                            + CLOSE_WAIT_NANOS / 1_000_000_000 + " s, so it stays open: close it again once that call"
                            + " has returned", held);
                }
                if (attempt < 100) {
                    Thread.onSpinWait();
                } else {
                    java.util.concurrent.locks.LockSupport.parkNanos(100_000);
                }
            }
        }
    }

    @Override
    public String toString() {
        return "SampleStore[" + source + ", " + dtype.cliName() + ", " + samples + " samples, "
                + (isRagged() ? "ragged" + (starts != null ? " in " + chunks + " chunks" : "")
                        : "fixed " + fixedTimesteps + " timesteps")
                + ", features " + Arrays.toString(featureShape) + (closed ? ", closed" : "") + "]";
    }

    private void checkOpen() {
        if (closed) {
            throw new IllegalStateException("SampleStore over " + source + " is closed");
        }
    }

    private void checkIndex(long i) {
        checkOpen();
        if (i < 0 || i >= samples) {
            throw new IndexOutOfBoundsException("sample " + i + " outside [0, " + samples + ")");
        }
    }

    static long product(long[] shape) {
        long p = 1;
        for (long d : shape) {
            p = Math.multiplyExact(p, d);
        }
        return p;
    }

    private static void checkShape(long[] featureShape) {
        for (long d : featureShape) {
            if (d < 0) {
                throw new IllegalArgumentException("feature dimensions must be >= 0, got " + Arrays.toString(featureShape));
            }
        }
    }

    /**
     * Bytes of {@code samples x timesteps} timesteps of {@code featureShape}: every partial product checked,
     * so that a size past 2^63 is an IllegalArgumentException naming it, not an ArithmeticException.
     */
    private static long bytes(DType dtype, long samples, long timesteps, long[] featureShape) {
        try {
            return Math.multiplyExact(Math.multiplyExact(Math.multiplyExact(samples, timesteps), product(featureShape)),
                    dtype.byteSize());
        } catch (ArithmeticException e) {
            throw new IllegalArgumentException("insufficient capacity: values of " + samples + " x " + timesteps
                    + " timesteps of features " + Arrays.toString(featureShape) + " " + dtype.cliName()
                    + " need more than 2^63 bytes");
        }
    }

    private static void requireBytes(MemorySegment segment, long bytes, String what) {
        if (segment.byteSize() < bytes) {
            throw new IllegalArgumentException("insufficient capacity: " + what + " needs " + bytes
                    + " bytes, segment holds " + segment.byteSize());
        }
    }
}
