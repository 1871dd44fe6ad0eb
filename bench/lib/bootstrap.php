<?php
// The bootstrap_only row of bench/run: MediaWiki's bootstrap and nothing
// else.  WebStart.php runs Setup.php (LocalSettings.php, extensions, the
// service container, the session), then this prints the site name to
// prove the wiki's settings were read.  Timed under PHP-FPM it is what a
// request pays before MediaWiki does any of its own work: the most a warm
// worker can save per request (see bench/README.md).
require __DIR__ . '/includes/WebStart.php';
header( 'Content-Type: text/plain; charset=utf-8' );
echo "bootstrapped: $wgSitename\n";
