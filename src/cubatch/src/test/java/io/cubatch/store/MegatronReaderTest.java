package io.cubatch.store;

import static io.cubatch.store.Fixtures.fixture;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.lang.foreign.ValueLayout;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;

/** The fixture tiny.idx/.bin is written from the published MMIDIDX layout by make_fixtures.py. */
class MegatronReaderTest {
    private static Path prefix() {
        return MegatronReader.prefixOf(fixture("tiny.idx"));
    }

    @Test
    void readsSequencesAndDocuments() throws IOException {
        try (SampleStore s = MegatronReader.open(prefix())) {
            assertEquals(DType.UINT16, s.dtype());
            assertTrue(s.isRagged());
            assertEquals(4, s.size());
            long[] lengths = {3, 1, 0, 2};
            for (int i = 0; i < 4; i++) {
                assertEquals(lengths[i], s.length(i), "sequence " + i);
            }
            assertEquals(6, s.totalTimesteps());
            assertEquals(5, s.sample(3).get(ValueLayout.JAVA_SHORT_UNALIGNED, 0));
            assertEquals(6, s.sample(3).get(ValueLayout.JAVA_SHORT_UNALIGNED, 2));
            assertEquals(0, s.sample(2).byteSize());
            assertEquals(2, s.documents().getAsLong());
            assertEquals(0, s.documentStart(0));
            assertEquals(2, s.documentStart(1));
            assertEquals(4, s.documentStart(2));
            assertTrue(s.values().isMapped());
        }
    }

    @Test
    void opensByPrefixIdxOrBin() throws IOException {
        for (Path p : new Path[] {prefix(), fixture("tiny.idx"), fixture("tiny.bin")}) {
            try (SampleStore s = Datasets.open(p)) {
                assertEquals(4, s.size(), p.toString());
            }
        }
    }

    @Test
    void missingBinIsNamed() {
        DatasetFormatException e = assertThrows(DatasetFormatException.class,
                () -> MegatronReader.open(prefix().resolveSibling("absent")));
        assertTrue(e.getMessage().contains("absent.idx"), e.getMessage());
    }
}
