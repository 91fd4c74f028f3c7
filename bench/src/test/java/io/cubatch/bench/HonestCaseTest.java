package io.cubatch.bench;

import static org.junit.jupiter.api.Assertions.assertEquals;

import io.cubatch.collate.Backends;
import io.cubatch.collate.Collator;
import io.cubatch.collate.PaddedBatch;
import io.cubatch.store.DType;
import java.lang.foreign.MemorySegment;
import org.junit.jupiter.api.Test;

/**
 * The ceilings write what a backend writes: for same-size dtypes (a bit copy, where the ceilings' integer cast is
 * no conversion) their data, lengths and mask are the java backend's bytes, batch after batch into the reused
 * slot. Batch 1024 makes over 4 MB of output, so the C ceiling splits its rows over threads where there are
 * several, as cb_pad does.
 */
class HonestCaseTest {
    private static byte[] bytes(MemorySegment s) {
        return s.toArray(java.lang.foreign.ValueLayout.JAVA_BYTE);
    }

    @Test
    void bothCeilingsWriteTheJavaBackendsBytes() throws Throwable {
        for (int batch : new int[] {8, 1024}) {
            for (String dtype : new String[] {"int32", "float32"}) {
                try (Collator java = Backends.create("java");
                     HonestCase c = new HonestCase("steady", batch, DType.fromName(dtype).orElseThrow(),
                             DType.fromName(dtype).orElseThrow(), java)) {
                    for (int k = 0; k < 4; k++) {
                        PaddedBatch want = c.pad(java, k);
                        byte[][] expected = {bytes(want.data()), bytes(want.lengths()), bytes(want.attentionMask())};
                        for (String ceiling : new String[] {"ceilingJava", "ceilingC"}) {
                            want.data().fill((byte) 0x5a);
                            want.lengths().fill((byte) 0x5a);
                            want.attentionMask().fill((byte) 0x5a);
                            PaddedBatch got = c.run(HonestCase.way(ceiling), java, k);
                            String what = ceiling + ", batch " + batch + " " + dtype + ", batch no. " + k;
                            assertEquals(-1, MemorySegment.ofArray(expected[0]).mismatch(got.data()), what + ": data");
                            assertEquals(-1, MemorySegment.ofArray(expected[1]).mismatch(got.lengths()), what + ": lengths");
                            assertEquals(-1, MemorySegment.ofArray(expected[2]).mismatch(got.attentionMask()),
                                    what + ": mask");
                        }
                    }
                }
            }
        }
    }
}
