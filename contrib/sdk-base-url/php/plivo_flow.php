<?php
// Points an unmodified PHP app's plivo/php-sdk at `plivo-flow serve`.
//
//   PLIVO_FLOW_URL=http://127.0.0.1:8765 php -d auto_prepend_file=/path/to/plivo_flow.php app.php
//   (php-fpm / Apache: put `auto_prepend_file=/path/to/plivo_flow.php` in an ini file, e.g. one
//    in PHP_INI_SCAN_DIR, and pass PLIVO_FLOW_URL to the pool with `env[PLIVO_FLOW_URL]=...`)
//
// What it patches: php-sdk builds every URL as self::BASE_API_URL (or VOICE_BASE_API_URL,
// VOICE_BASE_API_FALLBACK_URL_1/_2) . "v1/Account/...", class constants of Plivo\BaseClient
// all equal to 'https://api.plivo.com/' (src/Plivo/BaseClient.php). Class constants cannot be
// changed at run time, and Composer's autoloader is registered in front of any other, so this
// file (run before the app) defines Plivo\BaseClient itself: it reads the SDK's own
// BaseClient.php, replaces 'https://api.plivo.com/' with PLIVO_FLOW_URL and evaluates it.
// Composer then finds the class already defined and never loads the original. Nothing else
// changes. The SDK is found in vendor/plivo/php-sdk above the script's or the current
// directory, or at PLIVO_FLOW_PHP_SDK (the php-sdk folder). It says which on stderr (the error
// log under php-fpm), or that it found none. Without PLIVO_FLOW_URL it does nothing.
// Checked against plivo/php-sdk v4.70.0.
(function () {
    $url = getenv('PLIVO_FLOW_URL');
    if ($url === false || $url === '' || class_exists('Plivo\BaseClient', false)) {
        return;
    }
    $roots = [];
    if (getenv('PLIVO_FLOW_PHP_SDK')) {
        $roots[] = getenv('PLIVO_FLOW_PHP_SDK');
    }
    foreach ([dirname(realpath($_SERVER['SCRIPT_FILENAME'] ?? '') ?: '.'), getcwd()] as $dir) {
        for ($d = $dir; ; $d = dirname($d)) {
            $roots[] = "$d/vendor/plivo/php-sdk";
            if (dirname($d) === $d) {
                break;
            }
        }
    }
    foreach ($roots as $root) {
        $file = "$root/src/Plivo/BaseClient.php";
        if (!is_file($file)) {
            continue;
        }
        $src = preg_replace('/^<\?php/', '', file_get_contents($file), 1);
        $src = str_replace("'https://api.plivo.com/'", var_export(rtrim($url, '/') . '/', true), $src, $n);
        if ($n === 0) {
            break; // an SDK this file does not know: leave it alone, and say so below
        }
        eval($src);
        error_log("plivo_flow.php: plivo/php-sdk at $root -> $url");
        return;
    }
    error_log('plivo_flow.php: found no plivo/php-sdk to patch (set PLIVO_FLOW_PHP_SDK); PLIVO_FLOW_URL is NOT applied');
})();
