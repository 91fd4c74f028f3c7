package io.cubatch.store;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;

/**
 * Writes the Arrow files of the bad-input corpus (src/test/resources/bad/arrow_*.arrow; make_bad.py writes the
 * others, which need no Arrow writer) and prints what cubatch says about each. Run from the repository root,
 * with the test classpath: {@code java -cp ... io.cubatch.store.MakeArrowBadFiles src/test/resources/bad}.
 */
public final class MakeArrowBadFiles {
  public static void main(String[] a) throws Exception {
    Path d = Path.of(a[0]);
    long[][] b0 = {{1, 2, 3}, {}, {4, 5}}; long[][] b1 = {{6}};
    byte[] stream = ArrowTestFiles.write(ArrowTestFiles.Spec.of("input_ids", false, DType.INT32, false), List.of(b0, b1));
    byte[] file = ArrowTestFiles.write(ArrowTestFiles.Spec.of("input_ids", false, DType.INT32, true), List.of(b0, b1));
    Files.write(d.resolve("arrow_truncated_body.arrow"), Arrays.copyOf(stream, stream.length - 30));
    Files.write(d.resolve("arrow_file_no_trailing_magic.arrow"), Arrays.copyOf(file, file.length - 3));
    byte[] huge = stream.clone(); ByteBuffer.wrap(huge).order(ByteOrder.LITTLE_ENDIAN).putInt(4, 0x7fffffff);
    Files.write(d.resolve("arrow_metadata_length_huge.arrow"), huge);
    byte[] neg = stream.clone(); ByteBuffer.wrap(neg).order(ByteOrder.LITTLE_ENDIAN).putInt(4, -8);
    Files.write(d.resolve("arrow_metadata_length_negative.arrow"), neg);
    byte[] off = stream.clone(); int at = find(off, new int[] {0, 3, 3, 5}); ByteBuffer.wrap(off).order(ByteOrder.LITTLE_ENDIAN).putInt(at + 12, 99);
    Files.write(d.resolve("arrow_offsets_past_values.arrow"), off);
    byte[] dec = stream.clone(); ByteBuffer.wrap(dec).order(ByteOrder.LITTLE_ENDIAN).putInt(at + 4, 4);
    Files.write(d.resolve("arrow_offsets_decreasing.arrow"), dec);
    byte[] footer = file.clone(); ByteBuffer.wrap(footer).order(ByteOrder.LITTLE_ENDIAN).putInt(footer.length - 10, footer.length);
    Files.write(d.resolve("arrow_footer_length_huge.arrow"), footer);
    Files.write(d.resolve("arrow_lz4.arrow"), ArrowTestFiles.write(new ArrowTestFiles.Spec("input_ids", false, DType.INT32, false, 0), List.<long[][]>of(b0)));
    Files.write(d.resolve("arrow_null_row.arrow"), ArrowTestFiles.write(ArrowTestFiles.Spec.of("input_ids", false, DType.INT32, false), List.<long[][]>of(new long[][] {{1}, null})));
    Files.write(d.resolve("arrow_empty_stream.arrow"), new byte[] {-1, -1, -1, -1, 0, 0, 0, 0});
    for (String n : new String[] {"arrow_truncated_body", "arrow_file_no_trailing_magic", "arrow_metadata_length_huge", "arrow_metadata_length_negative", "arrow_offsets_past_values", "arrow_offsets_decreasing", "arrow_footer_length_huge", "arrow_lz4", "arrow_null_row", "arrow_empty_stream"}) {
      try (SampleStore s = Datasets.open(d.resolve(n + ".arrow"))) { System.out.println(n + " OPENED " + s); }
      catch (DatasetFormatException e) { System.out.println(n + ".arrow | " + e.where() + " | " + e.getMessage()); }
    }
  }
  static int find(byte[] b, int[] ints) { ByteBuffer w = ByteBuffer.allocate(4 * ints.length).order(ByteOrder.LITTLE_ENDIAN); for (int i : ints) w.putInt(i); byte[] x = w.array();
    for (int i = 0; i + x.length <= b.length; i++) if (Arrays.equals(b, i, i + x.length, x, 0, x.length)) return i; throw new AssertionError(); }
}
