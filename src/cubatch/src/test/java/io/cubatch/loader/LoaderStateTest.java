package io.cubatch.loader;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** A loader checkpoint stored as JSON or bytes next to the model reads back equal and resumes the same batches. */
class LoaderStateTest {

    @BeforeAll
    static void makeCorpus() {
        BatchLoaderTest.makeCorpus();
    }

    @AfterAll
    static void freeCorpus() {
        BatchLoaderTest.freeCorpus();
    }

    @Test
    void jsonAndBytesRoundTripEveryValue() {
        for (LoaderState s : List.of(new LoaderState(0, 0, 0), new LoaderState(3, 1024, 0x00ff00ff00ff00ffL),
                new LoaderState(Long.MAX_VALUE, Long.MAX_VALUE, -1), new LoaderState(7, 5, Long.MIN_VALUE))) {
            assertEquals(s, LoaderState.fromJson(s.toJson()), s.toJson());
            assertEquals(s, LoaderState.fromBytes(s.toBytes()));
            assertEquals(LoaderState.BYTES, s.toBytes().length);
        }
    }

    @Test
    void theJsonFormIsDocumented() {
        assertEquals("{\"format\": \"cubatch-loader-state-v1\", \"epoch\": 3, \"consumed_samples\": 1024,"
                + " \"plan_hash\": \"00ff00ff00ff00ff\"}", new LoaderState(3, 1024, 0x00ff00ff00ff00ffL).toJson());
        assertEquals(new LoaderState(3, 1024, 255), LoaderState.fromJson(
                "\n{ \"plan_hash\":\"00000000000000ff\" ,\"consumed_samples\" : 1024, \"epoch\":3,"
                        + "\"format\":\"cubatch-loader-state-v1\" }\n"));
        assertArrayEquals(new byte[] {'C', 'B', 'L', 'S', 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 3, 0, 0, 0, 0, 0, 0, 4, 0,
                0, 0, 0, 0, 0, 0, 0, (byte) 0xff}, new LoaderState(3, 1024, 255).toBytes());
    }

    @ParameterizedTest
    @ValueSource(strings = {
        "",
        "[]",
        "{\"format\": \"cubatch-loader-state-v2\", \"epoch\": 3, \"consumed_samples\": 1, \"plan_hash\": \"00000000000000ff\"}",
        "{\"epoch\": 3, \"consumed_samples\": 1, \"plan_hash\": \"00000000000000ff\"}",
        "{\"format\": \"cubatch-loader-state-v1\", \"consumed_samples\": 1, \"plan_hash\": \"00000000000000ff\"}",
        "{\"format\": \"cubatch-loader-state-v1\", \"epoch\": 3, \"consumed_samples\": 1, \"plan_hash\": \"ff\"}",
        "{\"format\": \"cubatch-loader-state-v1\", \"epoch\": 3, \"consumed_samples\": 1, \"plan_hash\": 255}",
        "{\"format\": \"cubatch-loader-state-v1\", \"epoch\": \"3\", \"consumed_samples\": 1, \"plan_hash\": \"00000000000000ff\"}",
        "{\"format\": \"cubatch-loader-state-v1\", \"epoch\": 3, \"epoch\": 4, \"consumed_samples\": 1, \"plan_hash\": \"00000000000000ff\"}",
        "{\"format\": \"cubatch-loader-state-v1\", \"epoch\": 3, \"consumed_samples\": 1, \"plan_hash\": \"00000000000000ff\", \"x\": 1}",
        "{\"format\": \"cubatch-loader-state-v1\", \"epoch\": 99999999999999999999, \"consumed_samples\": 1, \"plan_hash\": \"00000000000000ff\"}",
        "{\"format\": \"cubatch-loader-state-v1\", \"epoch\": -1, \"consumed_samples\": 1, \"plan_hash\": \"00000000000000ff\"}",
        "{\"format\": \"cubatch-loader-state-v1\", \"epoch\": 3.5, \"consumed_samples\": 1, \"plan_hash\": \"00000000000000ff\"}",
    })
    void badJsonIsRefusedWithTheReason(String json) {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> LoaderState.fromJson(json));
        assertTrue(e.getMessage().contains("loader state"), e.getMessage());
    }

    @Test
    void badBytesAreRefusedWithTheReason() {
        byte[] good = new LoaderState(1, 2, 3).toBytes();
        assertTrue(assertThrows(IllegalArgumentException.class, () -> LoaderState.fromBytes(new byte[31]))
                .getMessage().contains("32 bytes, got 31"));
        byte[] magic = good.clone();
        magic[0] = 'X';
        assertTrue(assertThrows(IllegalArgumentException.class, () -> LoaderState.fromBytes(magic))
                .getMessage().contains("magic"));
        byte[] version = good.clone();
        version[7] = 2;
        assertTrue(assertThrows(IllegalArgumentException.class, () -> LoaderState.fromBytes(version))
                .getMessage().contains("version 2"));
    }

    /** The checkpoint a trainer writes with the model, read back in a new process, resumes the same batches. */
    @Test
    void aStoredCheckpointResumesTheSameBatches() {
        List<BatchLoaderTest.Seen> full;
        try (BatchLoader l = BatchLoaderTest.loader("java", 3, 1).build()) {
            full = BatchLoaderTest.drain(l.epoch(2), Integer.MAX_VALUE);
        }
        String json;
        byte[] bytes;
        try (BatchLoader l = BatchLoaderTest.loader("java", 3, 1).build()) {
            BatchLoaderTest.drain(l.epoch(2), 11);
            json = l.state().toJson();
            bytes = l.state().toBytes();
        }
        try (BatchLoader l = BatchLoaderTest.loader("java", 3, 1).build()) {
            assertEquals(full.subList(11, full.size()),
                    BatchLoaderTest.drain(l.resume(LoaderState.fromJson(json)), Integer.MAX_VALUE));
        }
        try (BatchLoader l = BatchLoaderTest.loader("java", 3, 1).build()) {
            assertEquals(full.subList(11, full.size()),
                    BatchLoaderTest.drain(l.resume(LoaderState.fromBytes(bytes)), Integer.MAX_VALUE));
        }
    }
}
