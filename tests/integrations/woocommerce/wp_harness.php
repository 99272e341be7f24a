<?php
/**
 * A minimal stand-in for WordPress and WooCommerce, enough to run the plugin's storefront
 * code (includes/widgets.php) against a real collector over HTTP.
 *
 * Usage: php wp_harness.php PLUGIN_DIR SCENARIO.json → JSON report on stdout.
 * Scenario: {"settings": {...}, "locale": "de_DE", "user": 26, "get": {...},
 *            "orders": {"723": {...}}, "calls": [["cx_wc_view_order", 723], ...]}
 */

define( 'ABSPATH', __DIR__ . '/' );
define( 'MINUTE_IN_SECONDS', 60 );

$scenario   = json_decode( file_get_contents( $argv[2] ), true );
$options    = array( 'cx_wc_settings' => $scenario['settings'] );
$webhooks   = array();
$errors     = array();
$transients = array();
$requests   = array();
$enqueued   = array();
$_GET       = $scenario['get'] ?? array();

class Fake_WP_Error {
	public $message;
	public function __construct( $message ) {
		$this->message = $message;
	}
	public function get_error_message() {
		return $this->message;
	}
}

class Fake_Order {
	private $data;
	public function __construct( array $data ) {
		$this->data = $data;
	}
	public function get_order_number() {
		return $this->data['number'];
	}
	public function get_billing_email() {
		return $this->data['email'];
	}
	public function get_customer_id() {
		return $this->data['customer_id'];
	}
	public function get_order_key() {
		return $this->data['order_key'];
	}
}

function get_option( $name, $default = false ) {
	global $options;
	return array_key_exists( $name, $options ) ? $options[ $name ] : $default;
}
function update_option( $name, $value ) {
	global $options;
	$options[ $name ] = $value;
	return true;
}
function delete_option( $name ) {
	global $options;
	unset( $options[ $name ] );
	return true;
}
function add_settings_error( $setting, $code, $message ) {
	global $errors;
	$errors[] = $code;
}
function __( $text, $domain ) {
	return $text;
}
function sanitize_text_field( $value ) {
	return trim( strip_tags( (string) $value ) );
}
function delete_transient( $key ) {
	global $transients;
	unset( $transients[ $key ] );
}

/** The parts of WC_Webhook the plugin uses; the ping is a real HTTP request. */
class WC_Webhook {
	public $props = array();
	public function __call( $name, $args ) {
		if ( 0 === strpos( $name, 'set_' ) ) {
			$this->props[ substr( $name, 4 ) ] = $args[0];
			return null;
		}
		if ( 0 === strpos( $name, 'get_' ) ) {
			return $this->props[ substr( $name, 4 ) ] ?? null;
		}
		throw new Exception( "WC_Webhook::$name is not faked" );
	}
	public function save() {
		global $webhooks;
		if ( empty( $this->props['id'] ) ) {
			$this->props['id'] = 100 + count( $webhooks );
		}
		$webhooks[ $this->props['id'] ] = $this;
		return $this->props['id'];
	}
	public function delete( $force ) {
		global $webhooks;
		unset( $webhooks[ $this->props['id'] ] );
	}
	public function deliver_ping() {
		$context = stream_context_create(
			array(
				'http' => array(
					'method'        => 'POST',
					'ignore_errors' => true,
					'header'        => 'Content-Type: application/x-www-form-urlencoded',
					'content'       => 'webhook_id=' . $this->props['id'],
				),
			)
		);
		@file_get_contents( $this->props['delivery_url'], false, $context ); // phpcs:ignore
		preg_match( '#^HTTP/\S+ (\d+)#', $http_response_header[0] ?? '', $m );
		$this->props['ping_status'] = (int) ( $m[1] ?? 0 );
		return 200 === $this->props['ping_status'] ? true : new Fake_WP_Error( 'Delivery URL returned response code: ' . $this->props['ping_status'] );
	}
}
function wc_get_webhook( $id ) {
	global $webhooks;
	return $webhooks[ $id ] ?? null;
}
function wp_parse_args( $args, $defaults ) {
	return array_merge( $defaults, $args );
}
function get_transient( $key ) {
	global $transients;
	return isset( $transients[ $key ] ) ? $transients[ $key ]['value'] : false;
}
function set_transient( $key, $value, $ttl ) {
	global $transients;
	$transients[ $key ] = array(
		'value' => $value,
		'ttl'   => $ttl,
	);
	return true;
}
function apply_filters( $name, $value ) {
	return $value;
}
function determine_locale() {
	global $scenario;
	return $scenario['locale'];
}
function is_wp_error( $thing ) {
	return $thing instanceof Fake_WP_Error;
}
function wp_remote_get( $url, $args ) {
	global $requests;
	$requests[] = $url;
	$context    = stream_context_create(
		array(
			'http' => array(
				'ignore_errors'   => true,
				'timeout'         => $args['timeout'],
				'follow_location' => 0,
				'header'          => 'Accept-Language: ' . $args['headers']['Accept-Language'],
			),
		)
	);
	$body       = @file_get_contents( $url, false, $context ); // phpcs:ignore
	if ( false === $body ) {
		return new Fake_WP_Error( 'unreachable' );
	}
	preg_match( '#^HTTP/\S+ (\d+)#', $http_response_header[0], $m );
	return array(
		'code' => (int) $m[1],
		'body' => $body,
	);
}
function wp_remote_retrieve_response_code( $response ) {
	return $response['code'];
}
function wp_remote_retrieve_body( $response ) {
	return $response['body'];
}
function wp_kses( $html, $allowed ) {
	// Not WordPress's parser: enough to prove disallowed tags are dropped.
	return strip_tags( $html, array_keys( $allowed ) );
}
function wp_enqueue_style( $handle, $src ) {
	global $enqueued;
	$enqueued[ $handle ] = $src;
}
function wp_enqueue_script( $handle, $src ) {
	global $enqueued;
	$enqueued[ $handle ] = $src;
}
function add_shortcode() {}
function add_action() {}
function shortcode_atts( $defaults, $atts ) {
	return array_merge( $defaults, array_intersect_key( (array) $atts, $defaults ) );
}
function wc_get_order( $id ) {
	global $scenario;
	return isset( $scenario['orders'][ (string) $id ] ) ? new Fake_Order( $scenario['orders'][ (string) $id ] ) : false;
}
function wc_clean( $value ) {
	return trim( (string) $value );
}
function wp_unslash( $value ) {
	return $value;
}
function absint( $value ) {
	return abs( (int) $value );
}
function is_user_logged_in() {
	global $scenario;
	return ! empty( $scenario['user'] );
}
function get_current_user_id() {
	global $scenario;
	return (int) ( $scenario['user'] ?? 0 );
}
function is_singular() {
	return true;
}
function get_the_ID() {
	global $scenario;
	return $scenario['product'] ?? 0;
}
function is_admin() {
	return false;
}

define( 'CX_WC_VERSION', 'test' );
define( 'CX_WC_OPTION', 'cx_wc_settings' );
define( 'CX_WC_WEBHOOKS_OPTION', 'cx_wc_webhook_ids' );
require $argv[1] . '/includes/functions.php';
require $argv[1] . '/includes/settings.php';
require $argv[1] . '/includes/widgets.php';
require $argv[1] . '/includes/webhooks.php';

/** Records the queries uninstall.php runs. */
class Fake_WPDB {
	public $options = 'wp_options';
	public $queries = array();
	public function esc_like( $text ) {
		return addcslashes( $text, '_%\\' );
	}
	public function prepare( $query, ...$args ) {
		return vsprintf( str_replace( '%s', "'%s'", $query ), $args );
	}
	public function query( $sql ) {
		$this->queries[] = $sql;
		return 0;
	}
}
$wpdb = new Fake_WPDB();

$results = array();
foreach ( $scenario['calls'] as $call ) {
	if ( 'uninstall' === $call[0] ) {
		define( 'WP_UNINSTALL_PLUGIN', 'cx-woocommerce/cx-woocommerce.php' );
		require $argv[1] . '/uninstall.php';
		$results[] = array( 'call' => 'uninstall', 'returned' => $wpdb->queries );
		continue;
	}
	$before = count( $requests );
	ob_start();
	$returned = call_user_func_array( $call[0], array_slice( $call, 1 ) );
	$printed  = ob_get_clean();
	$results[] = array(
		'call'     => $call[0],
		'returned' => $returned,
		'html'     => is_string( $returned ) ? $returned : $printed,
		'requests' => array_slice( $requests, $before ),
	);
}
echo json_encode(
	array(
		'results'    => $results,
		'transients' => $transients,
		'enqueued'   => $enqueued,
		'options'    => $options,
		'errors'     => $errors,
		'webhooks'   => array_values(
			array_map(
				function ( $w ) {
					return $w->props;
				},
				$webhooks
			)
		),
	)
);
