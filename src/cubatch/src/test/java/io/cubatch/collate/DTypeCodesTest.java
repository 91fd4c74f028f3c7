package io.cubatch.collate;

import static org.junit.jupiter.api.Assertions.assertEquals;

import io.cubatch.store.DType;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;

/** The dtype codes the kernels use (cuda/cb_common.cuh) are the ordinals of {@link DType}. */
class DTypeCodesTest {
    @Test
    void kernelCodesMatchJavaOrdinals() throws IOException {
        String header = Files.readString(Path.of(System.getProperty("cubatch.root"), "cuda/cb_common.cuh"));
        Matcher m = Pattern.compile("CB_([A-Z0-9_]+) = (\\d+)").matcher(header);
        Map<String, Integer> codes = new LinkedHashMap<>();
        while (m.find()) {
            codes.put(m.group(1), Integer.parseInt(m.group(2)));
        }
        for (DType t : DType.values()) {
            assertEquals(t.ordinal(), codes.get(t.name()), "CB_" + t.name());
        }
        assertEquals(DType.values().length, codes.get("DTYPE_COUNT"));
    }
}
