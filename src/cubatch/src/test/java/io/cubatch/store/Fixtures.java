package io.cubatch.store;

import java.net.URISyntaxException;
import java.nio.file.Path;

final class Fixtures {
    private Fixtures() {
    }

    static Path fixture(String name) {
        return resource("/fixtures/" + name);
    }

    static Path bad(String name) {
        return resource("/bad/" + name);
    }

    private static Path resource(String name) {
        try {
            var url = Fixtures.class.getResource(name);
            if (url == null) {
                throw new IllegalStateException("missing test resource " + name);
            }
            return Path.of(url.toURI());
        } catch (URISyntaxException e) {
            throw new IllegalStateException(e);
        }
    }
}
