package io.cubatch.cuda;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import java.util.Properties;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/** Which GPUs run the packaged kernels, and from which code; and the build packages every architecture. */
class KernelArchitecturesTest {
    static final KernelArchitectures CUDA_13 = new KernelArchitectures(
            List.of(75, 80, 86, 87, 88, 89, 90, 100, 103, 110, 120, 121), 121, "Build cuda_13.0");
    static final KernelArchitectures OLD = new KernelArchitectures(List.of(75, 80, 90), 90, "");

    @ParameterizedTest(name = "{0}.{1} with CUDA 13's list: {2}")
    @CsvSource(delimiter = '|', textBlock = """
            7 | 5 | true  | SASS sm_75
            8 | 6 | true  | SASS sm_86
            8 | 9 | true  | SASS sm_89
            9 | 0 | true  | SASS sm_90
            10| 3 | true  | SASS sm_103
            12| 1 | true  | SASS sm_121
            12| 2 | true  | SASS sm_121 (binary compatible with compute capability 12.2)
            13| 0 | true  | JIT from PTX compute_121
            6 | 1 | false | compute capability 6.1 is older than 7.5
            7 | 0 | false | compute capability 7.0 is older than 7.5
            """)
    void everyGenerationFromTuringRunsItsOwnCode(int major, int minor, boolean runs, String how) {
        KernelArchitectures.Match m = CUDA_13.match(major, minor);
        assertEquals(runs, m.runs(), m.how());
        assertTrue(m.how().startsWith(how), m.how());
    }

    @ParameterizedTest(name = "{0}.{1} with sm_75, sm_80, sm_90, PTX 90: {2}")
    @CsvSource(delimiter = '|', textBlock = """
            8 | 6 | true  | SASS sm_80 (binary compatible with compute capability 8.6)
            8 | 9 | true  | SASS sm_80 (binary compatible
            10| 0 | true  | JIT from PTX compute_90: no SASS for compute capability 10.0
            12| 0 | true  | JIT from PTX compute_90
            """)
    void anOlderListFallsBackToCompatibleSassOrPtx(int major, int minor, boolean runs, String how) {
        KernelArchitectures.Match m = OLD.match(major, minor);
        assertEquals(runs, m.runs(), m.how());
        assertTrue(m.how().startsWith(how), m.how());
    }

    @Test
    void aGpuBetweenTheSassAndANewerPtxIsRefusedWithTheFix() {
        KernelArchitectures k = new KernelArchitectures(List.of(75, 80, 100), 100, "");
        KernelArchitectures.Match m = k.match(9, 0);
        assertFalse(m.runs());
        assertTrue(m.how().contains("rebuild cuda/ with an nvcc that supports sm_90"), m.how());
    }

    @Test
    void theBuildsListParses() {
        Properties p = new Properties();
        p.setProperty("sass", "sm_75 sm_80 sm_90");
        p.setProperty("ptx", "compute_90");
        p.setProperty("nvcc", "Build cuda_12.6");
        KernelArchitectures k = KernelArchitectures.parse(p);
        assertEquals(OLD.sass(), k.sass());
        assertEquals(90, k.ptx());
        assertEquals("SASS sm_75, sm_80, sm_90; PTX compute_90 (nvcc: Build cuda_12.6)", k.describe());
        p.setProperty("sass", "sm_75 compute_80");
        assertThrows(IllegalArgumentException.class, () -> KernelArchitectures.parse(p));
    }

    /**
     * Where the build had nvcc, the fatbin has SASS for every architecture nvcc lists from sm_75 up and PTX of
     * the newest; without nvcc there is neither a fatbin nor a list.
     */
    @Test
    void thePackagedFatbinCoversEveryArchitectureOfTheBuildsNvcc() throws Exception {
        if (!Cuda.kernelsPackaged()) {
            assertTrue(KernelArchitectures.packaged().isEmpty(), "a list without a fatbin");
            assertTrue(Cuda.buildNote().isPresent(), "no fatbin, and the build did not say why");
            return;
        }
        KernelArchitectures k = KernelArchitectures.packaged().orElseThrow(() -> new AssertionError(
                "the fatbin is packaged without " + KernelArchitectures.RESOURCE));
        assertEquals(75, k.sass().getFirst(), k.describe());
        assertEquals(k.sass().getLast().intValue(), k.ptx(), "PTX of the newest: " + k.describe());
        String nvcc = System.getenv().getOrDefault("NVCC", "nvcc");
        Process p;
        try {
            p = new ProcessBuilder(nvcc, "--list-gpu-code").redirectErrorStream(true).start();
        } catch (java.io.IOException e) {
            return;   // the jar was built elsewhere; its own list was checked above
        }
        String out = new String(p.getInputStream().readAllBytes()).strip();
        if (p.waitFor() != 0) {
            return;
        }
        List<Integer> expected = new ArrayList<>();
        for (String a : out.split("\\s+")) {
            if (a.matches("sm_[0-9]+") && Integer.parseInt(a.substring(3)) >= 75) {
                expected.add(Integer.parseInt(a.substring(3)));
            }
        }
        assertEquals(expected.stream().sorted().distinct().toList(), k.sass(), "nvcc --list-gpu-code: " + out);
    }
}
