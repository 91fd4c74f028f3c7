package io.cubatch.store;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;
import org.apache.arrow.flatbuf.Block;
import org.apache.arrow.flatbuf.BodyCompression;
import org.apache.arrow.flatbuf.CompressionType;
import org.apache.arrow.flatbuf.Field;
import org.apache.arrow.flatbuf.FieldNode;
import org.apache.arrow.flatbuf.FloatingPoint;
import org.apache.arrow.flatbuf.Footer;
import org.apache.arrow.flatbuf.Int;
import org.apache.arrow.flatbuf.Message;
import org.apache.arrow.flatbuf.MessageHeader;
import org.apache.arrow.flatbuf.MetadataVersion;
import org.apache.arrow.flatbuf.Precision;
import org.apache.arrow.flatbuf.RecordBatch;
import org.apache.arrow.flatbuf.Schema;
import org.apache.arrow.flatbuf.Type;
import org.apache.arrow.flatbuf.Union;
import org.apache.arrow.flatbuf.UnionMode;

/**
 * Memory-maps an Arrow IPC file or stream (what Hugging Face {@code datasets} caches are) and serves one
 * list-of-primitive column as a ragged {@link SampleStore}, in place: every record batch's values stay where
 * they are in the mapping (a chunked store, see {@link SampleStore#isContiguous()}); only int64 lengths and
 * starts (16 bytes per row) are computed.
 *
 * <pre>
 * stream:  message* [end marker]           file:  "ARROW1\0\0"  stream  footer  int32 footer length  "ARROW1"
 * message: 0xFFFFFFFF | int32 metadata length M | M bytes flatbuffer Message (Schema, DictionaryBatch,
 *          RecordBatch), padded to 8 | body of Message.bodyLength bytes (the buffers, 8-aligned)
 *          (a pre-1.0 stream omits the 0xFFFFFFFF; the end marker is a length of 0)
 * column list&lt;T&gt; (large_list&lt;T&gt;): node (rows, nulls), node (values, nulls); buffers validity bitmap,
 *          int32 (int64) offsets [rows + 1], child validity, child values
 * </pre>
 *
 * The metadata (Schema, RecordBatch, Footer) is read with the Arrow project's generated flatbuffer classes
 * ({@code org.apache.arrow:arrow-format}) from a heap copy of each metadata block, never from the mapping.
 * Before any buffer is read, everything it depends on is checked: message and metadata lengths within the
 * file, body lengths, buffer ranges within their body, alignment to the element size, nesting depth, node
 * and buffer counts, offsets non-decreasing and within the values buffer. A bad file is a
 * {@link DatasetFormatException} naming the byte or record batch, never a crash. Compressed bodies (LZ4,
 * ZSTD) and big-endian files are refused by name.
 */
public final class ArrowReader {
    private static final ValueLayout.OfInt I32 = ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfLong I64 = ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final byte[] FILE_MAGIC = {'A', 'R', 'R', 'O', 'W', '1'};
    /** Metadata blocks (one message's flatbuffer, or the footer) larger than this are refused. */
    static final int MAX_METADATA = 64 << 20;
    /** Fields nested deeper than this are refused (a hostile schema could recurse without end). */
    static final int MAX_DEPTH = 64;
    /** The column read when none is named, when the file has it (Hugging Face tokenizers' output). */
    public static final String DEFAULT_COLUMN = "input_ids";

    private ArrowReader() {
    }

    /**
     * Which column to read and what to do with null rows.
     *
     * @param column       the column's name; null: {@value #DEFAULT_COLUMN} if present, else the only
     *                     list-of-primitive column
     * @param skipNullRows false: a null list is an error naming its row; true: null rows are left out (the store's
     *                     sample i is then the i-th non-null row)
     */
    public record Options(String column, boolean skipNullRows) {
        /** The default: column {@value ArrowReader#DEFAULT_COLUMN} if present, else the only one; null rows refused. */
        public static final Options DEFAULT = new Options(null, false);

        /**
         * Reads the named column, refusing null rows.
         *
         * @param name the column's name
         * @return the options
         */
        public static Options column(String name) {
            return new Options(name, false);
        }
    }

    /**
     * True when the file starts like an Arrow IPC file ("ARROW1") or stream (0xFFFFFFFF continuation).
     *
     * @param head the file's first bytes (at least 8 to recognise a stream)
     * @return whether they start with an Arrow file or stream marker
     */
    public static boolean hasMagic(MemorySegment head) {
        if (head.byteSize() >= 6 && startsWithFileMagic(head)) {
            return true;
        }
        return head.byteSize() >= 8 && head.get(I32, 0) == -1;
    }

    /**
     * Maps {@code file} and returns the store that owns the mapping.
     *
     * @param file the Arrow IPC file or stream
     * @param options which column to read, and what to do with null rows
     * @return the ragged store of the column's lists, owning the mapping; close it to unmap
     * @throws IOException when the file cannot be mapped, or is not a valid Arrow file for these options ({@link
     *     DatasetFormatException})
     */
    public static SampleStore open(Path file, Options options) throws IOException {
        Arena arena = Arena.ofShared();
        try {
            MemorySegment mapped;
            try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
                mapped = ch.map(FileChannel.MapMode.READ_ONLY, 0, ch.size(), arena);
            }
            MappedFile watched = MappedFile.of(file, mapped.byteSize());
            // opening touches a few bytes per record batch (metadata, offsets) scattered over the file: without
            // this, each page fault reads ahead around it, and a cold 2 GB file reads hundreds of MB to open
            Advice.advise(mapped, Advice.MADV_RANDOM);
            try {
                return read(file, mapped, arena, options).mapping(watched);
            } finally {
                Advice.advise(mapped, Advice.MADV_NORMAL);   // training reads whole samples: read-ahead helps again
            }
        } catch (IOException | RuntimeException | Error e) {
            arena.close();
            throw e;
        }
    }

    /** A store over an Arrow file or stream already in memory; {@code owner} (null: the caller) frees it. */
    static SampleStore read(Path file, MemorySegment f, Arena owner, Options options) throws DatasetFormatException {
        return new Parse(file, f, options).run(owner);
    }

    private static boolean startsWithFileMagic(MemorySegment f) {
        for (int i = 0; i < FILE_MAGIC.length; i++) {
            if (f.get(ValueLayout.JAVA_BYTE, i) != FILE_MAGIC[i]) {
                return false;
            }
        }
        return true;
    }

    /**
     * {@code madvise(2)} on Linux, a hint only: where it is missing or fails, nothing changes but the speed.
     * The mapping passed is page-aligned (the JDK maps from offset 0).
     */
    private static final class Advice {
        static final int MADV_NORMAL = 0;
        static final int MADV_RANDOM = 1;
        private static final java.lang.invoke.MethodHandle MADVISE = find();

        private static java.lang.invoke.MethodHandle find() {
            if (!System.getProperty("os.name", "").startsWith("Linux")) {
                return null;
            }
            java.lang.foreign.Linker linker = java.lang.foreign.Linker.nativeLinker();
            return linker.defaultLookup().find("madvise").map(f -> linker.downcallHandle(f,
                    java.lang.foreign.FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.ADDRESS,
                            ValueLayout.JAVA_LONG, ValueLayout.JAVA_INT))).orElse(null);
        }

        static void advise(MemorySegment mapping, int advice) {
            if (MADVISE == null || mapping.byteSize() == 0) {
                return;
            }
            try {
                int ignored = (int) MADVISE.invokeExact(mapping, mapping.byteSize(), advice);
            } catch (Throwable t) {
                // a hint: never a reason to fail the open
            }
        }
    }

    /** Where one record batch's column lies in the file (absolute byte positions, all validated). */
    private record Chunk(int batch, long rows, long validity, long offsets, int offsetWidth, long values) {
    }

    /** A message: its flatbuffer, and where its body lies. */
    private record Msg(Message message, long at, long bodyStart, long bodyLength, long next) {
    }

    private static final class Parse {
        private final Path file;
        private final MemorySegment f;
        private final Options options;
        private final long size;
        private String column;
        private DType dtype;
        private boolean largeList;
        private int nodeIndex;
        private int bufferIndex;
        private int fieldsSeen;
        private final List<Chunk> chunks = new ArrayList<>();

        Parse(Path file, MemorySegment f, Options options) {
            this.file = file;
            this.f = f;
            this.options = options;
            this.size = f.byteSize();
        }

        SampleStore run(Arena owner) throws DatasetFormatException {
            if (size < 8) {
                throw bad("byte 0", "a file of " + size + " bytes", "an Arrow IPC file (\"ARROW1\" magic) or stream"
                        + " (0xFFFFFFFF and a schema message): truncated?");
            }
            try {
                if (startsWithFileMagic(f)) {
                    readFile();
                } else {
                    readStream();
                }
            } catch (RuntimeException e) {
                // the flatbuffer accessors bound-check every read against the heap copy of the metadata and throw
                // (IndexOutOfBounds, BufferUnderflow, a bad UTF-8 name) on a corrupt one
                throw bad("", "Arrow metadata that is not a valid flatbuffer (" + e.getClass().getSimpleName() + ": "
                        + e.getMessage() + ")", "a file written by an Arrow library (corrupt or truncated?)");
            }
            return build(owner);
        }

        // ---- framing -------------------------------------------------------------------------------------

        private void readFile() throws DatasetFormatException {
            if (size < 8 + 4 + 6) {
                throw bad("byte 0", "an \"ARROW1\" file of " + size + " bytes", "at least 18 bytes (magic, footer"
                        + " length, trailing magic): truncated file?");
            }
            for (int i = 0; i < FILE_MAGIC.length; i++) {
                if (f.get(ValueLayout.JAVA_BYTE, size - 6 + i) != FILE_MAGIC[i]) {
                    throw bad("byte " + (size - 6), "no trailing \"ARROW1\" magic",
                            "an Arrow IPC file ending in its footer and \"ARROW1\" (truncated file, or a stream"
                                    + " with a file's magic?)");
                }
            }
            long footerLength = f.get(I32, size - 10);
            long dataEnd = size - 10 - footerLength;
            if (footerLength <= 0 || footerLength > MAX_METADATA || dataEnd < 8) {
                throw bad("byte " + (size - 10), "footer length " + footerLength, "1 to "
                        + Math.min(MAX_METADATA, size - 18) + " bytes for a " + size + "-byte file");
            }
            Footer footer = Footer.getRootAsFooter(heapCopy(dataEnd, footerLength));
            Schema schema = footer.schema();
            if (schema == null) {
                throw bad("byte " + dataEnd, "a footer without a schema", "the schema of the file's record batches");
            }
            checkVersion(footer.version(), "byte " + dataEnd);
            chooseColumn(schema);
            int batches = footer.recordBatchesLength();
            if (batches < 0 || batches > footerLength / 24) {
                throw bad("byte " + dataEnd, batches + " record batch blocks in a " + footerLength + "-byte footer",
                        "at most one per 24 bytes of footer");
            }
            Block block = new Block();
            for (int k = 0; k < batches; k++) {
                footer.recordBatches(block, k);
                long at = block.offset();
                long meta = block.metaDataLength();
                long body = block.bodyLength();
                if (at < 8 || at % 8 != 0 || meta <= 0 || body < 0 || at > dataEnd || meta > dataEnd - at
                        || body > dataEnd - at - meta) {
                    throw bad("record batch " + k, "block at byte " + at + " with " + meta + " metadata and " + body
                            + " body bytes", "an 8-aligned block within bytes [8, " + dataEnd + ") (the footer's"
                            + " start)");
                }
                Msg m = message(at, at + meta);
                if (m == null || m.message().headerType() != MessageHeader.RecordBatch) {
                    throw bad("byte " + at, "block " + k + " that is not a record batch message",
                            "the footer's record batch blocks to point at record batches");
                }
                if (m.bodyStart() != at + meta || m.bodyLength() != body) {
                    throw bad("byte " + at, "a message whose body (" + m.bodyLength() + " bytes at byte "
                            + m.bodyStart() + ") differs from its block (" + body + " bytes at byte " + (at + meta) + ")",
                            "the footer and the message to agree");
                }
                recordBatch(m, k);
            }
        }

        private void readStream() throws DatasetFormatException {
            Msg first = message(0, size);
            if (first == null || first.message().headerType() != MessageHeader.Schema) {
                throw bad("byte 0", first == null ? "an end-of-stream marker" : "a "
                                + MessageHeader.name(Byte.toUnsignedInt(first.message().headerType())) + " message first",
                        "a schema message first: is this an Arrow IPC stream (or a Hugging Face datasets cache)?");
            }
            checkVersion(first.message().version(), "byte 0");
            chooseColumn((Schema) first.message().header(new Schema()));
            long pos = first.next();
            int k = 0;
            while (pos < size) {
                Msg m = message(pos, size);
                if (m == null) {
                    break;
                }
                switch (m.message().headerType()) {
                    case MessageHeader.RecordBatch -> recordBatch(m, k++);
                    case MessageHeader.DictionaryBatch -> {
                        // dictionaries belong to dictionary-encoded columns, which are never the one read
                    }
                    default -> throw bad("byte " + pos, "a " + MessageHeader.name(Byte.toUnsignedInt(
                            m.message().headerType())) + " message", "record batches after the schema");
                }
                pos = m.next();
            }
        }

        /** The message at {@code at}, bounded by {@code end}; null for an end-of-stream marker. */
        private Msg message(long at, long end) throws DatasetFormatException {
            if (end - at < 4) {
                throw bad("byte " + at, (end - at) + " bytes left", "a message: 0xFFFFFFFF, an int32 length and"
                        + " metadata (truncated file?)");
            }
            long metaStart = at + 4;
            int length = f.get(I32, at);
            if (length == -1) {
                if (end - at < 8) {
                    throw bad("byte " + at, "a continuation marker with " + (end - at - 4) + " bytes after it",
                            "an int32 metadata length (truncated file?)");
                }
                length = f.get(I32, at + 4);
                metaStart = at + 8;
            }
            if (length == 0) {
                return null;
            }
            if (length < 0 || length > MAX_METADATA || length > end - metaStart) {
                throw bad("byte " + (metaStart - 4), "metadata length " + length, "1 to "
                        + Math.min(MAX_METADATA, end - metaStart) + " bytes (what is left of the "
                        + (end == size ? "file" : "block") + "; truncated or corrupt?)");
            }
            Message m = Message.getRootAsMessage(heapCopy(metaStart, length));
            long bodyStart = metaStart + length;
            long bodyLength = m.bodyLength();
            if (bodyLength < 0 || bodyLength > size - bodyStart) {
                throw bad("byte " + at, "a message body of " + bodyLength + " bytes at byte " + bodyStart,
                        "at most " + (size - bodyStart) + " bytes: the rest of the file (truncated file?)");
            }
            checkVersion(m.version(), "byte " + at);
            return new Msg(m, at, bodyStart, bodyLength, bodyStart + bodyLength);
        }

        private ByteBuffer heapCopy(long at, long length) {
            byte[] b = f.asSlice(at, length).toArray(ValueLayout.JAVA_BYTE);
            return ByteBuffer.wrap(b).order(ByteOrder.LITTLE_ENDIAN);
        }

        private void checkVersion(short version, String where) throws DatasetFormatException {
            if (version != MetadataVersion.V4 && version != MetadataVersion.V5) {
                throw bad(where, "metadata version " + version, MetadataVersion.V4 + " (Arrow 0.15 to 1.0) or "
                        + MetadataVersion.V5 + " (Arrow 1.0 and later)");
            }
        }

        // ---- schema --------------------------------------------------------------------------------------

        private void chooseColumn(Schema schema) throws DatasetFormatException {
            if (schema.endianness() != org.apache.arrow.flatbuf.Endianness.Little) {
                throw bad("", "a big-endian Arrow file", "little-endian data (every Arrow writer's default on x86"
                        + " and ARM): rewrite it with a little-endian writer");
            }
            int n = schema.fieldsLength();
            StringBuilder names = new StringBuilder();
            List<String> primitiveLists = new ArrayList<>();
            if (n < 0 || n > MAX_METADATA / 4) {
                throw bad("", n + " fields in the schema", "a schema of at most " + MAX_METADATA / 4 + " fields");
            }
            for (int i = 0; i < n; i++) {
                Field field = schema.fields(i);
                String name = field.name();
                names.append(i == 0 ? "" : ", ").append(name).append(" (").append(typeName(field, 0)).append(')');
                if (listDType(field) != null) {
                    primitiveLists.add(name);
                }
            }
            String want = options.column();
            if (want == null) {
                want = hasField(schema, DEFAULT_COLUMN) ? DEFAULT_COLUMN
                        : primitiveLists.size() == 1 ? primitiveLists.getFirst() : null;
                if (want == null) {
                    throw bad("", "no column named " + DEFAULT_COLUMN + " and " + primitiveLists.size()
                            + " list-of-number columns; columns: " + names, "a column chosen by name (--column NAME)");
                }
            }
            Field chosen = null;
            int chosenIndex = -1;
            for (int i = 0; i < n && chosen == null; i++) {
                if (want.equals(schema.fields(i).name())) {
                    chosen = schema.fields(i);
                    chosenIndex = i;
                }
            }
            if (chosen == null) {
                throw bad("", "no column named '" + want + "'; columns: " + (n == 0 ? "none" : names),
                        "one of those names (--column NAME)");
            }
            column = want;
            dtype = listDType(chosen);
            largeList = chosen.typeType() == Type.LargeList;
            if (dtype == null) {
                throw bad("", "column '" + want + "' of type " + typeName(chosen, 0), "a list or large_list of int8,"
                        + " uint8, int16, uint16, int32, int64, float16, float32 or float64 (without a dictionary);"
                        + " columns: " + names);
            }
            for (int i = 0; i < chosenIndex; i++) {
                count(schema.fields(i), 0);
            }
        }

        private static boolean hasField(Schema schema, String name) {
            for (int i = 0; i < schema.fieldsLength(); i++) {
                if (name.equals(schema.fields(i).name())) {
                    return true;
                }
            }
            return false;
        }

        /** Adds a field's nodes and buffers (depth first, as the record batch lists them) to the indices. */
        private void count(Field field, int depth) throws DatasetFormatException {
            if (depth > MAX_DEPTH || ++fieldsSeen > 100_000) {
                throw bad("", "a schema nested deeper than " + MAX_DEPTH + " levels or with over 100000 fields",
                        "a schema of reasonable size");
            }
            nodeIndex++;
            if (field.dictionary() != null) {
                bufferIndex += 2;   // dictionary-encoded: validity and integer indices
                return;
            }
            byte t = field.typeType();
            switch (t) {
                case Type.Null -> { }
                case Type.Int, Type.FloatingPoint, Type.Bool, Type.Decimal, Type.Date, Type.Time, Type.Timestamp,
                     Type.Interval, Type.Duration, Type.FixedSizeBinary -> bufferIndex += 2;
                case Type.Binary, Type.Utf8, Type.LargeBinary, Type.LargeUtf8 -> bufferIndex += 3;
                case Type.List, Type.LargeList, Type.Map -> bufferIndex += 2;
                case Type.ListView, Type.LargeListView -> bufferIndex += 3;
                case Type.FixedSizeList, Type.Struct_ -> bufferIndex += 1;
                case Type.RunEndEncoded -> { }
                case Type.Union -> {
                    Union u = (Union) field.type(new Union());
                    bufferIndex += u != null && u.mode() == UnionMode.Dense ? 2 : 1;
                }
                default -> throw bad("", "column '" + field.name() + "' of type " + typeName(field, 0) + " before"
                        + " column '" + column + "'", "columns whose buffers cubatch can count (not views): read"
                        + " a file without them, or put the column first");
            }
            int children = field.childrenLength();
            for (int i = 0; i < children; i++) {
                count(field.children(i), depth + 1);
            }
        }

        /** The element type of a list/large_list of primitives, or null for any other type. */
        private static DType listDType(Field field) {
            byte t = field.typeType();
            if ((t != Type.List && t != Type.LargeList) || field.dictionary() != null || field.childrenLength() != 1) {
                return null;
            }
            Field child = field.children(0);
            if (child.dictionary() != null || child.childrenLength() != 0) {
                return null;
            }
            return primitive(child);
        }

        private static DType primitive(Field child) {
            if (child.typeType() == Type.Int) {
                Int i = (Int) child.type(new Int());
                if (i == null) {
                    return null;
                }
                return switch (i.bitWidth()) {
                    case 8 -> i.isSigned() ? DType.INT8 : DType.UINT8;
                    case 16 -> i.isSigned() ? DType.INT16 : DType.UINT16;
                    case 32 -> i.isSigned() ? DType.INT32 : null;
                    case 64 -> i.isSigned() ? DType.INT64 : null;
                    default -> null;
                };
            }
            if (child.typeType() == Type.FloatingPoint) {
                FloatingPoint p = (FloatingPoint) child.type(new FloatingPoint());
                if (p == null) {
                    return null;
                }
                return switch (p.precision()) {
                    case Precision.HALF -> DType.FLOAT16;
                    case Precision.SINGLE -> DType.FLOAT32;
                    case Precision.DOUBLE -> DType.FLOAT64;
                    default -> null;
                };
            }
            return null;
        }

        /** Arrow's name for a field's type: {@code list<int32>}, {@code large_list<float>}, {@code utf8}. */
        private static String typeName(Field field, int depth) {
            byte t = field.typeType();
            String base;
            if (t == Type.Int) {
                Int i = (Int) field.type(new Int());
                base = i == null ? "int" : (i.isSigned() ? "int" : "uint") + i.bitWidth();
            } else if (t == Type.FloatingPoint) {
                FloatingPoint p = (FloatingPoint) field.type(new FloatingPoint());
                base = p == null ? "float" : switch (p.precision()) {
                    case Precision.HALF -> "halffloat";
                    case Precision.SINGLE -> "float";
                    default -> "double";
                };
            } else {
                int u = Byte.toUnsignedInt(t);
                base = u < Type.names.length ? Type.names[u] : "type " + u;
                base = switch (base) {
                    case "List" -> "list";
                    case "LargeList" -> "large_list";
                    case "Utf8" -> "utf8";
                    case "LargeUtf8" -> "large_utf8";
                    case "Struct_" -> "struct";
                    default -> base.toLowerCase(java.util.Locale.ROOT);
                };
            }
            if (field.dictionary() != null) {
                base = "dictionary<" + base + ">";
            }
            int children = field.childrenLength();
            if (children > 0 && depth < 4) {
                StringBuilder s = new StringBuilder(base).append('<');
                for (int i = 0; i < Math.min(children, 4); i++) {
                    s.append(i == 0 ? "" : ", ").append(typeName(field.children(i), depth + 1));
                }
                return s.append(children > 4 ? ", ...>" : ">").toString();
            }
            return base;
        }

        // ---- record batches ------------------------------------------------------------------------------

        private void recordBatch(Msg m, int k) throws DatasetFormatException {
            RecordBatch rb = (RecordBatch) m.message().header(new RecordBatch());
            String where = "record batch " + k + " (byte " + m.at() + ")";
            if (rb == null) {
                throw bad(where, "a record batch message without its header", "a RecordBatch table");
            }
            BodyCompression c = rb.compression();
            if (c != null) {
                int codec = c.codec();
                String name = codec >= 0 && codec < CompressionType.names.length ? CompressionType.names[codec]
                        : "codec " + codec;
                throw bad(where, "a body compressed with " + name, "an uncompressed file: cubatch maps the values in"
                        + " place, so rewrite it without compression (pyarrow: ipc.IpcWriteOptions(compression=None);"
                        + " Hugging Face datasets caches are uncompressed)");
            }
            long rows = rb.length();
            if (rb.nodesLength() < nodeIndex + 2 || rb.buffersLength() < bufferIndex + 4) {
                throw bad(where, rb.nodesLength() + " field nodes and " + rb.buffersLength() + " buffers",
                        "at least " + (nodeIndex + 2) + " nodes and " + (bufferIndex + 4) + " buffers, as the schema"
                                + " says up to column '" + column + "'");
            }
            FieldNode list = rb.nodes(nodeIndex);
            FieldNode child = rb.nodes(nodeIndex + 1);
            if (rows < 0 || list.length() != rows || list.nullCount() < 0 || list.nullCount() > rows) {
                throw bad(where, "column '" + column + "' of " + list.length() + " rows with " + list.nullCount()
                        + " nulls in a batch of " + rows + " rows", "one list per row of the batch");
            }
            if (child.length() < 0 || child.nullCount() != 0) {
                throw bad(where, "column '" + column + "' with " + child.nullCount() + " null values inside its lists"
                        + " (of " + child.length() + ")", "lists of numbers without nulls: fill them in first");
            }
            int width = largeList ? 8 : 4;   // the schema said list (int32 offsets) or large_list (int64)
            long validity = -1;
            if (list.nullCount() > 0) {
                validity = buffer(m, rb, bufferIndex, (rows + 7) / 8, 1, where, "validity bitmap");
            }
            long offsets = rows == 0 ? -1 : buffer(m, rb, bufferIndex + 1, (rows + 1) * width, width, where, "offsets");
            long lastOffset = 0;
            long firstOffset = 0;
            if (rows > 0) {
                firstOffset = offsetAt(offsets, width, 0);
                lastOffset = offsetAt(offsets, width, rows);
                if (firstOffset < 0 || lastOffset < firstOffset || lastOffset > child.length()) {
                    throw bad(where, "offsets from " + firstOffset + " to " + lastOffset, "non-negative, non-decreasing"
                            + " offsets within the " + child.length() + " values of column '" + column + "'");
                }
                long previous = firstOffset;
                for (long j = 1; j <= rows; j++) {
                    long o = offsetAt(offsets, width, j);
                    if (o < previous) {
                        throw bad(where, "offsets[" + j + "] = " + o + " after offsets[" + (j - 1) + "] = " + previous,
                                "non-decreasing offsets");
                    }
                    previous = o;
                }
            }
            long values = buffer(m, rb, bufferIndex + 3, lastOffset * dtype.byteSize(), dtype.byteSize(), where,
                    "values");
            chunks.add(new Chunk(k, rows, validity, offsets, width, values));
        }

        private long offsetAt(long offsets, int width, long j) {
            return width == 4 ? f.get(I32, offsets + 4 * j) : f.get(I64, offsets + 8 * j);
        }

        /** The absolute position of buffer {@code index}, checked to hold {@code need} bytes, aligned. */
        private long buffer(Msg m, RecordBatch rb, int index, long need, int align, String where, String what)
                throws DatasetFormatException {
            org.apache.arrow.flatbuf.Buffer b = rb.buffers(index);
            long offset = b.offset();
            long length = b.length();
            if (offset < 0 || length < 0 || offset > m.bodyLength() || length > m.bodyLength() - offset) {
                throw bad(where, "column '" + column + "' " + what + " buffer at body offset " + offset + " of "
                        + length + " bytes", "a range within the " + m.bodyLength() + "-byte body");
            }
            if (length < need) {
                throw bad(where, "column '" + column + "' " + what + " buffer of " + length + " bytes",
                        "at least " + need + " bytes, as the row count and offsets say");
            }
            long at = m.bodyStart() + offset;
            if (at % align != 0) {
                throw bad(where, "column '" + column + "' " + what + " buffer at byte " + at, "a buffer aligned to "
                        + align + " bytes (Arrow aligns buffers to 8)");
            }
            return at;
        }

        // ---- the store -----------------------------------------------------------------------------------

        private SampleStore build(Arena owner) throws DatasetFormatException {
            int elem = dtype.byteSize();
            long kept = 0;
            long rowBase = 0;
            long spanStart = Long.MAX_VALUE;
            long spanEnd = 0;
            for (Chunk c : chunks) {
                for (long j = 0; j < c.rows(); j++) {
                    if (isNull(c, j)) {
                        if (!options.skipNullRows()) {
                            throw bad("record batch " + c.batch(), "row " + (rowBase + j) + " of column '" + column
                                    + "' is null", "a list in every row: skip null rows (--skip-null-rows,"
                                    + " ArrowReader.Options(column, true)), or fill them in");
                        }
                    } else {
                        kept++;
                    }
                }
                rowBase += c.rows();
                if (c.rows() > 0) {
                    long end = c.values() + (offsetAt(c.offsets(), c.offsetWidth(), c.rows())) * elem;
                    spanStart = Math.min(spanStart, c.values());
                    spanEnd = Math.max(spanEnd, end);
                }
            }
            if (spanStart == Long.MAX_VALUE) {
                spanStart = 0;
            }
            long samples = kept;
            NativeMemory.require(16 * (samples + 1), () -> "the lengths and starts of " + file + " (" + samples
                    + " rows, 16 bytes each)", "open a smaller dataset, or free memory");
            Arena arena = owner != null ? owner : Arena.ofAuto();
            MemorySegment offsets = arena.allocate(8 * (samples + 1), 8);
            MemorySegment starts = arena.allocate(Math.max(8, 8 * samples), 8).asSlice(0, 8 * samples);
            long i = 0;
            long total = 0;
            boolean contiguous = true;
            for (Chunk c : chunks) {
                long base = (c.values() - spanStart) / elem;
                for (long j = 0; j < c.rows(); j++) {
                    if (isNull(c, j)) {
                        continue;
                    }
                    long from = offsetAt(c.offsets(), c.offsetWidth(), j);
                    long to = offsetAt(c.offsets(), c.offsetWidth(), j + 1);
                    offsets.setAtIndex(ValueLayout.JAVA_LONG, i, total);
                    starts.setAtIndex(ValueLayout.JAVA_LONG, i, base + from);
                    contiguous &= base + from == total;
                    total += to - from;
                    i++;
                }
            }
            offsets.setAtIndex(ValueLayout.JAVA_LONG, samples, total);
            MemorySegment values = f.asSlice(spanStart, spanEnd - spanStart);
            String source = file + " (arrow, column " + column + ")";
            if (contiguous) {
                return SampleStore.raggedFromComputedOffsets(dtype, new long[0], values, offsets, null, source, owner);
            }
            return SampleStore.chunkedFromComputedOffsets(dtype, values, offsets, starts, source, owner)
                    .chunks(chunks.size());
        }

        private boolean isNull(Chunk c, long j) {
            if (c.validity() < 0) {
                return false;
            }
            return (f.get(ValueLayout.JAVA_BYTE, c.validity() + (j >>> 3)) >> (j & 7) & 1) == 0;
        }

        private DatasetFormatException bad(String where, String found, String expected) {
            return new DatasetFormatException(file, where, found, expected);
        }
    }
}
