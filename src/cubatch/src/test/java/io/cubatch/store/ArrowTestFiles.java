package io.cubatch.store;

import com.google.flatbuffers.FlatBufferBuilder;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.List;
import org.apache.arrow.flatbuf.Block;
import org.apache.arrow.flatbuf.BodyCompression;
import org.apache.arrow.flatbuf.Buffer;
import org.apache.arrow.flatbuf.Endianness;
import org.apache.arrow.flatbuf.Field;
import org.apache.arrow.flatbuf.FieldNode;
import org.apache.arrow.flatbuf.FloatingPoint;
import org.apache.arrow.flatbuf.Footer;
import org.apache.arrow.flatbuf.Int;
import org.apache.arrow.flatbuf.LargeList;
import org.apache.arrow.flatbuf.Message;
import org.apache.arrow.flatbuf.MessageHeader;
import org.apache.arrow.flatbuf.MetadataVersion;
import org.apache.arrow.flatbuf.Precision;
import org.apache.arrow.flatbuf.RecordBatch;
import org.apache.arrow.flatbuf.Schema;
import org.apache.arrow.flatbuf.Type;

/**
 * Writes one-column Arrow IPC streams and files for tests that Arrow JS cannot make (large_list, which it
 * lacks; compressed bodies; hostile variations) and for the 2 GB measurement. The metadata is built with the
 * Arrow project's generated flatbuffer builders; the framing follows the IPC spec (continuation marker,
 * 8-byte padding, footer). The Arrow JS fixtures ({@link ArrowJsFixtures}) are the independent check.
 */
final class ArrowTestFiles {
    /** Column name, list or large_list, element type, file (true) or stream, body compression codec or -1. */
    record Spec(String column, boolean large, DType dtype, boolean file, int codec) {
        static Spec of(String column, boolean large, DType dtype, boolean file) {
            return new Spec(column, large, dtype, file, -1);
        }
    }

    private ArrowTestFiles() {
    }

    /** The whole file: {@code batches} of rows (a null row is a null list). */
    static byte[] write(Spec spec, List<long[][]> batches) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        try {
            Writer w = new Writer(spec, out);
            for (long[][] rows : batches) {
                w.batch(rows);
            }
            w.finish();
        } catch (IOException e) {
            throw new AssertionError(e);
        }
        return out.toByteArray();
    }

    /** Streams batches to {@code out}; {@link #finish} writes the end marker (and footer). */
    static final class Writer {
        private final Spec spec;
        private final OutputStream out;
        private long position;
        private final List<long[]> blocks = new ArrayList<>();   // offset, metadata length, body length

        Writer(Spec spec, OutputStream out) throws IOException {
            this.spec = spec;
            this.out = out;
            if (spec.file()) {
                write(new byte[] {'A', 'R', 'R', 'O', 'W', '1', 0, 0});
            }
            message(MessageHeader.Schema, schema(new FlatBufferBuilder()), 0, null);
        }

        void batch(long[][] rows) throws IOException {
            int w = spec.large() ? 8 : 4;
            int e = spec.dtype().byteSize();
            int n = rows.length;
            boolean nulls = false;
            long total = 0;
            for (long[] r : rows) {
                nulls |= r == null;
                total += r == null ? 0 : r.length;
            }
            long validityLength = nulls ? pad8((n + 7) / 8) : 0;
            long offsetsLength = pad8((long) (n + 1) * w);
            long valuesLength = pad8(total * e);
            ByteBuffer body = ByteBuffer.allocate((int) (validityLength + offsetsLength + valuesLength))
                    .order(ByteOrder.LITTLE_ENDIAN);
            long o = 0;
            for (int i = 0; i < n; i++) {
                if (rows[i] != null && nulls) {
                    body.put(i / 8, (byte) (body.get(i / 8) | 1 << (i % 8)));
                }
                putOffset(body, (int) (validityLength + (long) i * w), w, o);
                o += rows[i] == null ? 0 : rows[i].length;
            }
            putOffset(body, (int) (validityLength + (long) n * w), w, o);
            int at = (int) (validityLength + offsetsLength);
            for (long[] r : rows) {
                for (long v : r == null ? new long[0] : r) {
                    switch (e) {
                        case 1 -> body.put(at, (byte) v);
                        case 2 -> body.putShort(at, (short) v);
                        case 4 -> body.putInt(at, spec.dtype() == DType.FLOAT32 ? Float.floatToRawIntBits(v) : (int) v);
                        default -> body.putLong(at, spec.dtype() == DType.FLOAT64 ? Double.doubleToRawLongBits(v) : v);
                    }
                    at += e;
                }
            }
            FlatBufferBuilder b = new FlatBufferBuilder();
            int compression = spec.codec() < 0 ? 0 : BodyCompression.createBodyCompression(b, (byte) spec.codec(), (byte) 0);
            RecordBatch.startNodesVector(b, 2);
            FieldNode.createFieldNode(b, total, 0);
            FieldNode.createFieldNode(b, n, nulls ? countNulls(rows) : 0);
            int nodes = b.endVector();
            RecordBatch.startBuffersVector(b, 4);
            Buffer.createBuffer(b, validityLength + offsetsLength, total * e);
            Buffer.createBuffer(b, validityLength + offsetsLength, 0);
            Buffer.createBuffer(b, validityLength, (long) (n + 1) * w);
            Buffer.createBuffer(b, 0, nulls ? (n + 7) / 8 : 0);
            int buffers = b.endVector();
            RecordBatch.startRecordBatch(b);
            RecordBatch.addLength(b, n);
            RecordBatch.addNodes(b, nodes);
            RecordBatch.addBuffers(b, buffers);
            if (compression != 0) {
                RecordBatch.addCompression(b, compression);
            }
            int rb = RecordBatch.endRecordBatch(b);
            message(MessageHeader.RecordBatch, new Built(b, rb), body.capacity(), body.array());
        }

        void finish() throws IOException {
            write(new byte[] {-1, -1, -1, -1, 0, 0, 0, 0});
            if (!spec.file()) {
                return;
            }
            FlatBufferBuilder b = new FlatBufferBuilder();
            Built s = schema(b);
            Footer.startRecordBatchesVector(b, blocks.size());
            for (int i = blocks.size() - 1; i >= 0; i--) {
                Block.createBlock(b, blocks.get(i)[0], (int) blocks.get(i)[1], blocks.get(i)[2]);
            }
            int rbs = b.endVector();
            int footer = Footer.createFooter(b, MetadataVersion.V5, s.root(), 0, rbs, 0);
            b.finish(footer);
            byte[] f = b.sizedByteArray();
            write(f);
            write(ByteBuffer.allocate(4).order(ByteOrder.LITTLE_ENDIAN).putInt(f.length).array());
            write(new byte[] {'A', 'R', 'R', 'O', 'W', '1'});
        }

        private record Built(FlatBufferBuilder b, int root) {
        }

        private Built schema(FlatBufferBuilder b) {
            int itemName = b.createString("item");
            byte childType;
            int childTypeOffset;
            if (spec.dtype().isFloatingPoint()) {
                childType = Type.FloatingPoint;
                childTypeOffset = FloatingPoint.createFloatingPoint(b, spec.dtype() == DType.FLOAT16 ? Precision.HALF
                        : spec.dtype() == DType.FLOAT32 ? Precision.SINGLE : Precision.DOUBLE);
            } else {
                childType = Type.Int;
                boolean unsigned = spec.dtype() == DType.UINT8 || spec.dtype() == DType.UINT16;
                childTypeOffset = Int.createInt(b, spec.dtype().byteSize() * 8, !unsigned);
            }
            int child = Field.createField(b, itemName, false, childType, childTypeOffset, 0, 0, 0);
            int listType;
            if (spec.large()) {
                LargeList.startLargeList(b);
                listType = LargeList.endLargeList(b);
            } else {
                org.apache.arrow.flatbuf.List.startList(b);
                listType = org.apache.arrow.flatbuf.List.endList(b);
            }
            int children = Field.createChildrenVector(b, new int[] {child});
            int name = b.createString(spec.column());
            int field = Field.createField(b, name, true, spec.large() ? Type.LargeList : Type.List, listType, 0, children, 0);
            int fields = Schema.createFieldsVector(b, new int[] {field});
            return new Built(b, Schema.createSchema(b, Endianness.Little, fields, 0, 0));
        }

        private void message(byte type, Built header, long bodyLength, byte[] body) throws IOException {
            FlatBufferBuilder b = header.b();
            int m = Message.createMessage(b, MetadataVersion.V5, type, header.root(), bodyLength, 0);
            b.finish(m);
            byte[] meta = b.sizedByteArray();
            int padded = (int) pad8(8 + meta.length) - 8;
            long at = position;
            write(new byte[] {-1, -1, -1, -1});
            write(ByteBuffer.allocate(4).order(ByteOrder.LITTLE_ENDIAN).putInt(padded).array());
            write(meta);
            write(new byte[padded - meta.length]);
            if (body != null) {
                write(body);
                blocks.add(new long[] {at, 8 + padded, bodyLength});
            }
        }

        private void write(byte[] bytes) throws IOException {
            out.write(bytes);
            position += bytes.length;
        }

        private static void putOffset(ByteBuffer b, int at, int w, long v) {
            if (w == 4) {
                b.putInt(at, (int) v);
            } else {
                b.putLong(at, v);
            }
        }

        private static long countNulls(long[][] rows) {
            long c = 0;
            for (long[] r : rows) {
                c += r == null ? 1 : 0;
            }
            return c;
        }
    }

    static long pad8(long n) {
        return (n + 7) & ~7L;
    }
}
