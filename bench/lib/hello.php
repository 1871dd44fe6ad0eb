<?php
// The hello_php row of bench/run: the smallest PHP response, run the same
// way by both stacks (see bench/README.md for how mwsup reaches it).
header('Content-Type: text/plain; charset=utf-8');
echo "Hello, world!\n";
