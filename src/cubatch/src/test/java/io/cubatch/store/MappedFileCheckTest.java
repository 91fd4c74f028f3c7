package io.cubatch.store;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.RandomAccessFile;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** SampleStore.checkMappedFiles: a file that shrank under its mapping is found before anything reads it. */
class MappedFileCheckTest {
    @TempDir
    Path dir;

    static void truncate(Path file, long bytes) throws IOException {
        try (RandomAccessFile f = new RandomAccessFile(file.toFile(), "rw")) {
            f.setLength(bytes);
        }
    }

    @Test
    void aTruncatedNpyIsReportedWithBothSizes() throws IOException {
        Path file = Files.copy(Fixtures.fixture("arange_int32.npy"), dir.resolve("a.npy"));
        long size = Files.size(file);
        try (SampleStore s = Datasets.open(file)) {
            s.checkMappedFiles();
            truncate(file, size - 1);
            UncheckedIOException e = assertThrows(UncheckedIOException.class, s::checkMappedFiles);
            DatasetFormatException cause = assertInstanceOf(DatasetFormatException.class, e.getCause());
            assertEquals(file, cause.file());
            assertEquals(file + ": a file of " + (size - 1) + " bytes, " + size + " when it was opened: it shrank"
                    + " (truncated or rewritten in place) while mapped, and reading past its new end would crash the"
                    + " JVM; expected the file unchanged while it is open: write a new file and rename it over the old"
                    + " one (the open mapping keeps the old file), then open it again", e.getMessage());
        }
    }

    @Test
    void aGrownFileOrAFileReplacedByARenameIsFine() throws IOException {
        Path file = Files.copy(Fixtures.fixture("arange_int32.npy"), dir.resolve("a.npy"));
        try (SampleStore s = Datasets.open(file)) {
            Files.write(file, new byte[16], java.nio.file.StandardOpenOption.APPEND);
            s.checkMappedFiles();
            Path smaller = Files.write(dir.resolve("b.npy"), new byte[10]);
            Files.move(smaller, file, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
            s.checkMappedFiles();   // the mapping keeps the old file, whole
            Files.delete(file);
            s.checkMappedFiles();
        }
    }

    @Test
    void aTruncatedMegatronIndexOrBinIsReported() throws IOException {
        for (String shrinking : new String[] {".idx", ".bin"}) {
            Path d = Files.createDirectory(dir.resolve(shrinking.substring(1)));
            Files.copy(Fixtures.fixture("tiny.idx"), d.resolve("tiny.idx"));
            Files.copy(Fixtures.fixture("tiny.bin"), d.resolve("tiny.bin"));
            Path file = d.resolve("tiny" + shrinking);
            try (SampleStore s = Datasets.open(d.resolve("tiny"))) {
                s.checkMappedFiles();
                truncate(file, 8);
                UncheckedIOException e = assertThrows(UncheckedIOException.class, s::checkMappedFiles);
                assertTrue(e.getMessage().startsWith(file + ": a file of 8 bytes, "), e.getMessage());
            }
        }
    }

    @Test
    void storesNotReadFromFilesPassAndAClosedStoreRefuses() {
        SampleStore s = SampleStore.of(new int[][] {{1, 2}, {3}});
        s.checkMappedFiles();
        s.close();
        assertThrows(IllegalStateException.class, s::checkMappedFiles);
    }
}
