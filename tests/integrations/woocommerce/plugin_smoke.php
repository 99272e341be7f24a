<?php
/**
 * php-cli smoke test of the plugin's pure functions (no WordPress loaded).
 * Run: php plugin_smoke.php PLUGIN_DIR — prints "ok N" or the failed checks, exit 1.
 */

$dir = $argv[1] ?? ( __DIR__ . '/../../../cx_sdk/integrations/woocommerce/wordpress-plugin' );
require $dir . '/includes/functions.php';

$failures = array();
$count    = 0;
function check( $name, $condition ) {
	global $failures, $count;
	++$count;
	if ( ! $condition ) {
		$failures[] = $name;
	}
}

// Signatures: what WooCommerce sends for the secret the plugin sets (same vector as Python).
check( 'signature vector', 'q6FA017ZdHImttoXzFJSkNT/YehqzmeEz/8m7S2mA+Y=' === cx_wc_signature( '{"id":723}', 'abc' ) );

// Secrets: alphanumeric, long, distinct.
$secrets = array();
for ( $i = 0; $i < 50; $i++ ) {
	$secrets[] = cx_wc_generate_secret();
}
check( 'secrets distinct', 50 === count( array_unique( $secrets ) ) );
check( 'secrets alphanumeric 40', 50 === count( array_filter( $secrets, function ( $s ) { return 1 === preg_match( '/^[A-Za-z0-9]{40}$/', $s ); } ) ) );
check( 'secret minimum length', 32 === strlen( cx_wc_generate_secret( 8 ) ) );
check( 'generated secret valid', cx_wc_is_valid_secret( cx_wc_generate_secret() ) );
check( 'secret with & refused', ! cx_wc_is_valid_secret( str_repeat( 'a&b', 12 ) ) );
check( 'short secret refused', ! cx_wc_is_valid_secret( 'abc123' ) );

// Collector URL.
check( 'https kept', 'https://cx.example.com/base' === cx_wc_normalize_collector_url( ' https://CX.example.com/base/ ' ) );
check( 'port kept', 'https://cx.example.com:8443' === cx_wc_normalize_collector_url( 'https://cx.example.com:8443' ) );
check( 'http refused', '' === cx_wc_normalize_collector_url( 'http://cx.example.com' ) );
check( 'http localhost ok', 'http://localhost:8000' === cx_wc_normalize_collector_url( 'http://localhost:8000/' ) );
check( 'javascript refused', '' === cx_wc_normalize_collector_url( 'javascript:alert(1)' ) );
check( 'query refused', '' === cx_wc_normalize_collector_url( 'https://cx.example.com/?x=1' ) );
check( 'credentials refused', '' === cx_wc_normalize_collector_url( 'https://u:p@cx.example.com' ) );
check( 'shop id valid', cx_wc_is_valid_shop_id( 'shop_1a2b-3c' ) );
check( 'shop id refused', ! cx_wc_is_valid_shop_id( 'shop/../x' ) );

// Outgoing URLs.
check( 'delivery url', 'https://cx.example.com/integrations/woocommerce/webhooks/shop_1' === cx_wc_delivery_url( 'https://cx.example.com/', 'shop_1' ) );
check( 'topics', array( 'order.created', 'order.updated', 'order.deleted', 'order.restored', 'customer.created', 'customer.updated' ) === cx_wc_webhook_topics() );
check(
	'fragment url sorted and encoded',
	'https://cx.example.com/widgets/shop_1/tracking?email=a%2Bb%40example.com&locale=de&order=1001'
		=== cx_wc_fragment_url( 'https://cx.example.com', 'shop_1', 'tracking', array( 'order' => '1001', 'locale' => 'de', 'email' => 'a+b@example.com', 'empty' => '' ) )
);
check( 'fragment url without params', 'https://cx.example.com/widgets/s/chat' === cx_wc_fragment_url( 'https://cx.example.com', 's', 'chat', array() ) );
check( 'fragment url path escaped', false === strpos( cx_wc_fragment_url( 'https://c', 'a/b', 'x?y', array() ), 'a/b' ) );
check( 'basic auth', 'Basic d2tfMTIzOg==' === cx_wc_basic_auth( 'wk_123' ) );

// Fragment cache keys.
$a = cx_wc_cache_key( 'shop_1', 'recommendations', array( 'product' => '5', 'locale' => 'de' ) );
$b = cx_wc_cache_key( 'shop_1', 'recommendations', array( 'locale' => 'de', 'product' => '5' ) );
check( 'cache key order independent', $a === $b );
check( 'cache key per locale', $a !== cx_wc_cache_key( 'shop_1', 'recommendations', array( 'product' => '5', 'locale' => 'en' ) ) );
check( 'cache key per product', $a !== cx_wc_cache_key( 'shop_1', 'recommendations', array( 'product' => '6', 'locale' => 'de' ) ) );
check( 'cache key per shop', $a !== cx_wc_cache_key( 'shop_2', 'recommendations', array( 'product' => '5', 'locale' => 'de' ) ) );
check( 'cache key per widget', $a !== cx_wc_cache_key( 'shop_1', 'chat', array( 'product' => '5', 'locale' => 'de' ) ) );
check( 'cache key fits a transient name', 1 === preg_match( '/^cx_wc_frag_[0-9a-f]{40}$/', $a ) && strlen( $a ) <= 172 );
check( 'tracking is personal', cx_wc_is_personal( 'tracking', array() ) );
check( 'order makes personal', cx_wc_is_personal( 'survey', array( 'order' => '1' ) ) );
check( 'recommendations shared', ! cx_wc_is_personal( 'recommendations', array( 'product' => '5', 'locale' => 'de' ) ) );

// Responses: 204 (switched off) and errors render nothing.
check( '200 renders', '<p>x</p>' === cx_wc_fragment_from_response( 200, " <p>x</p>\n" ) );
check( '204 renders nothing', '' === cx_wc_fragment_from_response( 204, '' ) );
check( '404 renders nothing', '' === cx_wc_fragment_from_response( 404, 'no widget' ) );
check( 'transport error renders nothing', '' === cx_wc_fragment_from_response( 0, '' ) );

// Escaping in the placeholder.
$evil = '"><script>alert(1)</script>';
$html = cx_wc_placeholder( $evil, $evil, array( 'product' => $evil, 'email' => 'a@b.c', 'on click' => 'x' ), '' );
check( 'no raw script', false === strpos( $html, '<script' ) );
check( 'quotes escaped', false !== strpos( $html, '&quot;&gt;&lt;script&gt;' ) );
check( 'email never in markup', false === strpos( $html, 'a@b.c' ) );
check( 'bad attribute names dropped', false === strpos( $html, 'on click' ) );
check( 'empty placeholder not ready', false === strpos( $html, 'data-cx-state' ) );
check( 'ready placeholder', false !== strpos( cx_wc_placeholder( 's', 'chat', array(), '<p>hi</p>' ), 'data-cx-state="ready"><p>hi</p></div>' ) );

// Server-rendered widget roots are marked ready so loader.js leaves them alone.
check( 'mark ready', '<section class="a" data-cx-widget="tracking" data-cx-state="ready"><p data-cx-widget="x" data-cx-state="off">' === cx_wc_mark_ready( '<section class="a" data-cx-widget="tracking"><p data-cx-widget="x" data-cx-state="off">' ) );
check( 'mark ready leaves others', '<p class="x">' === cx_wc_mark_ready( '<p class="x">' ) );

// The kses allowlist.
$allowed = cx_wc_allowed_html();
check( 'no script tag', ! isset( $allowed['script'] ) && ! isset( $allowed['style'] ) && ! isset( $allowed['iframe'] ) );
$handlers = 0;
foreach ( $allowed as $attrs ) {
	foreach ( array_keys( $attrs ) as $attr ) {
		$handlers += ( 0 === strpos( $attr, 'on' ) || 'style' === $attr ) ? 1 : 0;
	}
}
check( 'no event handler or style attribute', 0 === $handlers );
check( 'forms allowed', isset( $allowed['form']['action'], $allowed['input']['name'], $allowed['a']['href'] ) );

// Locale.
check( 'german', 'de' === cx_wc_locale( 'de_DE_formal' ) && 'de' === cx_wc_locale( 'de_CH' ) );
check( 'english otherwise', 'en' === cx_wc_locale( 'en_US' ) && 'en' === cx_wc_locale( 'fr_FR' ) );

// Cross-language check for the Python test: sign stdin-less material when asked.
if ( isset( $argv[2], $argv[3] ) && 'sign' === $argv[2] ) {
	$secret = cx_wc_generate_secret();
	echo $secret, "\n", cx_wc_signature( file_get_contents( $argv[3] ), $secret ), "\n";
}

if ( $failures ) {
	fwrite( STDERR, 'FAILED: ' . implode( ', ', $failures ) . "\n" );
	exit( 1 );
}
echo "ok {$count}\n";
