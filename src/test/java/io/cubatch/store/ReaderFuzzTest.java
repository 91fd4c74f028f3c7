package io.cubatch.store;

import com.code_intelligence.jazzer.junit.FuzzTest;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Coverage-guided fuzzing of the three readers (Jazzer). Without {@code JAZZER_FUZZ} each method replays its
 * inputs under src/test/resources/io/cubatch/store/ReaderFuzzTestInputs/METHOD (seeds and every crash ever
 * found); {@code ./fuzz} runs the bounded fuzzing sessions. A reader may only ever answer with a store or a
 * {@link DatasetFormatException}: any other exception or a JVM crash is a finding.
 */
class ReaderFuzzTest {

    /** Reads every byte range a consumer would: each sample's first and last byte. */
    private static void touch(SampleStore s) {
        long n = s.size();
        for (long i = 0; i < n; i++) {
            MemorySegment m = s.sample(i);
            if (m.byteSize() > 0) {
                m.get(ValueLayout.JAVA_BYTE, 0);
                m.get(ValueLayout.JAVA_BYTE, m.byteSize() - 1);
            }
        }
        if (s.documents().isPresent()) {
            for (long d = 0; d <= s.documents().getAsLong(); d++) {
                s.documentStart(d);
            }
        }
    }

    @FuzzTest(maxDuration = "20s")
    void npy(byte[] file) {
        try (SampleStore s = NpyReader.read(Path.of("fuzz.npy"), MemorySegment.ofArray(file), null)) {
            touch(s);
        } catch (DatasetFormatException expected) {
            // the only acceptable failure
        }
    }

    @FuzzTest(maxDuration = "20s")
    void megatron(byte[] input) {
        // the first 4 bytes choose how much of the rest is the .idx; the remainder is the .bin
        if (input.length < 4) {
            return;
        }
        int split = Math.floorMod(((input[0] & 0xff) << 8 | (input[1] & 0xff)), input.length - 3);
        MemorySegment all = MemorySegment.ofArray(input).asSlice(4);
        long cut = Math.min(split, all.byteSize());
        Arena arena = Arena.ofConfined();
        try (SampleStore s = MegatronReader.read(Path.of("fuzz.idx"), all.asSlice(0, cut), Path.of("fuzz.bin"),
                all.asSlice(cut), arena)) {
            touch(s);
        } catch (DatasetFormatException expected) {
            // the only acceptable failure
        } finally {
            if (arena.scope().isAlive()) {
                arena.close();
            }
        }
    }

    @FuzzTest(maxDuration = "20s")
    void jsonl(byte[] input) throws IOException {
        Path f = Files.createTempFile("fuzz", ".jsonl");
        try {
            Files.write(f, input);
            try (SampleStore s = JsonlReader.open(f)) {
                touch(s);
            } catch (DatasetFormatException expected) {
                // the only acceptable failure
            }
        } finally {
            Files.deleteIfExists(f);
        }
    }
}
