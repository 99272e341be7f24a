<?php
/**
 * Pure helpers of the cx plugin: no WordPress call, no I/O, so php-cli can test them
 * (tests/integrations/woocommerce/plugin_smoke.php).
 *
 * @package CX_WooCommerce
 */

if ( ! defined( 'CX_WC_TEXT_DOMAIN' ) ) {
	define( 'CX_WC_TEXT_DOMAIN', 'cx-woocommerce' );
}

/**
 * The WooCommerce webhook topics cx maps to journey events.
 *
 * @return string[]
 */
function cx_wc_webhook_topics() {
	return array(
		'order.created',
		'order.updated',
		'order.deleted',
		'order.restored',
		'customer.created',
		'customer.updated',
	);
}

/**
 * Widgets whose fragment depends on who is looking; those are never cached.
 *
 * @param string $widget Widget name.
 * @param array  $params Query parameters of the fragment.
 * @return bool
 */
function cx_wc_is_personal( $widget, array $params ) {
	if ( 'tracking' === $widget ) {
		return true;
	}
	foreach ( array( 'order', 'email', 'user', 'subject' ) as $key ) {
		if ( isset( $params[ $key ] ) && '' !== (string) $params[ $key ] ) {
			return true;
		}
	}
	return false;
}

/**
 * A webhook secret of letters and digits only: WooCommerce runs the stored secret through
 * wp_specialchars_decode() before signing, so "&amp;" and friends would sign with another key.
 *
 * @param int $length Length, at least 32.
 * @return string
 */
function cx_wc_generate_secret( $length = 40 ) {
	$length   = max( 32, (int) $length );
	$alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
	$last     = strlen( $alphabet ) - 1;
	$secret   = '';
	for ( $i = 0; $i < $length; $i++ ) {
		$secret .= $alphabet[ random_int( 0, $last ) ];
	}
	return $secret;
}

/**
 * True when a secret is safe to use for WooCommerce webhooks.
 *
 * @param string $secret Secret.
 * @return bool
 */
function cx_wc_is_valid_secret( $secret ) {
	return is_string( $secret ) && strlen( $secret ) >= 32 && 1 === preg_match( '/^[A-Za-z0-9]+$/', $secret );
}

/**
 * The signature WooCommerce puts in X-WC-Webhook-Signature for a body; the collector checks
 * the same. Used by the settings page's self-test.
 *
 * @param string $body   Raw body.
 * @param string $secret Webhook secret.
 * @return string
 */
function cx_wc_signature( $body, $secret ) {
	// phpcs:ignore WordPress.PHP.DiscouragedPHPFunctions.obfuscation_base64_encode
	return base64_encode( hash_hmac( 'sha256', $body, $secret, true ) );
}

/**
 * The collector's base URL, or '' when it is unusable. HTTPS is required except for a
 * collector on the same machine (development).
 *
 * @param string $url URL as entered.
 * @return string
 */
function cx_wc_normalize_collector_url( $url ) {
	$url   = trim( (string) $url );
	$parts = parse_url( $url ); // phpcs:ignore WordPress.WP.AlternativeFunctions.parse_url_parse_url
	if ( ! is_array( $parts ) || empty( $parts['scheme'] ) || empty( $parts['host'] ) ) {
		return '';
	}
	$scheme = strtolower( $parts['scheme'] );
	$host   = strtolower( $parts['host'] );
	$local  = in_array( $host, array( 'localhost', '127.0.0.1', '::1', '[::1]' ), true );
	if ( 'https' !== $scheme && ! ( 'http' === $scheme && $local ) ) {
		return '';
	}
	if ( isset( $parts['user'] ) || isset( $parts['query'] ) || isset( $parts['fragment'] ) ) {
		return '';
	}
	$port = isset( $parts['port'] ) ? ':' . (int) $parts['port'] : '';
	$path = isset( $parts['path'] ) ? rtrim( $parts['path'], '/' ) : '';
	return $scheme . '://' . $host . $port . $path;
}

/**
 * A shop id as the collector issues it (letters, digits, "_" and "-").
 *
 * @param string $shop_id Shop id.
 * @return bool
 */
function cx_wc_is_valid_shop_id( $shop_id ) {
	return is_string( $shop_id ) && 1 === preg_match( '/^[A-Za-z0-9_-]{1,40}$/', $shop_id );
}

/**
 * Where WooCommerce delivers the webhooks.
 *
 * @param string $collector Collector base URL.
 * @param string $shop_id   Shop id.
 * @return string
 */
function cx_wc_delivery_url( $collector, $shop_id ) {
	return rtrim( $collector, '/' ) . '/integrations/woocommerce/webhooks/' . rawurlencode( $shop_id );
}

/**
 * The URL of a widget fragment with its parameters (sorted, so equal requests are equal).
 *
 * @param string $collector Collector base URL.
 * @param string $shop_id   Shop id.
 * @param string $widget    Widget name.
 * @param array  $params    Query parameters.
 * @return string
 */
function cx_wc_fragment_url( $collector, $shop_id, $widget, array $params ) {
	$params = array_filter(
		$params,
		static function ( $value ) {
			return null !== $value && '' !== (string) $value;
		}
	);
	ksort( $params );
	$url = rtrim( $collector, '/' ) . '/widgets/' . rawurlencode( $shop_id ) . '/' . rawurlencode( $widget );
	return $params ? $url . '?' . http_build_query( $params, '', '&', PHP_QUERY_RFC3986 ) : $url;
}

/**
 * Transient key of a non-personal fragment: every input that changes the HTML is part of it,
 * hashed so it fits WordPress's 172-character limit.
 *
 * @param string $shop_id Shop id.
 * @param string $widget  Widget name.
 * @param array  $params  Query parameters (include the locale).
 * @return string
 */
function cx_wc_cache_key( $shop_id, $widget, array $params ) {
	ksort( $params );
	$material = $shop_id . "\n" . $widget . "\n" . http_build_query( $params, '', '&', PHP_QUERY_RFC3986 );
	return 'cx_wc_frag_' . substr( hash( 'sha256', $material ), 0, 40 );
}

/**
 * What to render for a fragment response: the HTML for 200, nothing for 204 (the merchant
 * switched the widget off) and nothing for any error (the shop page must never break).
 *
 * @param int    $status HTTP status (0 for a transport error).
 * @param string $body   Body.
 * @return string
 */
function cx_wc_fragment_from_response( $status, $body ) {
	if ( 200 !== (int) $status ) {
		return '';
	}
	return trim( (string) $body );
}

/**
 * The HTTP Basic header the collector's /v1 API takes: the write key as user name.
 *
 * @param string $write_key Write key.
 * @return string
 */
function cx_wc_basic_auth( $write_key ) {
	// phpcs:ignore WordPress.PHP.DiscouragedPHPFunctions.obfuscation_base64_encode
	return 'Basic ' . base64_encode( $write_key . ':' );
}

/**
 * Escape for an HTML attribute (esc_attr in WordPress, htmlspecialchars outside).
 *
 * @param string $value Value.
 * @return string
 */
function cx_wc_attr( $value ) {
	if ( function_exists( 'esc_attr' ) ) {
		return esc_attr( (string) $value );
	}
	return htmlspecialchars( (string) $value, ENT_QUOTES | ENT_SUBSTITUTE, 'UTF-8' );
}

/**
 * The placeholder a fragment is rendered into; the collector's loader.js leaves a ready
 * one alone and wires its forms.
 *
 * @param string $shop_id Shop id.
 * @param string $widget  Widget name.
 * @param array  $params  Parameters the loader may re-send (never the email).
 * @param string $inner   Sanitised fragment HTML.
 * @return string
 */
function cx_wc_placeholder( $shop_id, $widget, array $params, $inner ) {
	$attrs = ' data-cx-widget="' . cx_wc_attr( $widget ) . '" data-cx-shop="' . cx_wc_attr( $shop_id ) . '"';
	foreach ( $params as $key => $value ) {
		if ( 'email' === $key || ! preg_match( '/^[a-z][a-z0-9_-]{0,30}$/', (string) $key ) ) {
			continue;
		}
		$attrs .= ' data-cx-' . $key . '="' . cx_wc_attr( $value ) . '"';
	}
	if ( '' !== $inner ) {
		$attrs .= ' data-cx-state="ready"';
	}
	return '<div class="cx-wc-widget"' . $attrs . '>' . $inner . '</div>';
}

/**
 * Mark every widget root inside a server-rendered fragment as ready, so the collector's
 * loader.js (which fills empty placeholders) does not fetch it again without its parameters.
 *
 * @param string $html Fragment HTML.
 * @return string
 */
function cx_wc_mark_ready( $html ) {
	return (string) preg_replace_callback(
		'/<([a-z][a-z0-9]*)(\s[^>]*?\bdata-cx-widget="[^"]*"[^>]*)>/i',
		static function ( $m ) {
			if ( false !== stripos( $m[2], 'data-cx-state=' ) ) {
				return $m[0];
			}
			return '<' . $m[1] . $m[2] . ' data-cx-state="ready">';
		},
		$html
	);
}

/**
 * Tags and attributes a collector fragment may contain (for wp_kses): its forms, lists and
 * links; no script, no style, no event handler.
 *
 * @return array
 */
function cx_wc_allowed_html() {
	$common = array(
		'class'            => true,
		'id'               => true,
		'role'             => true,
		'aria-label'       => true,
		'aria-labelledby'  => true,
		'aria-describedby' => true,
		'aria-hidden'      => true,
		'aria-live'        => true,
		'lang'             => true,
		'tabindex'         => true,
		'data-cx-focus'    => true,
		'data-cx-token'    => true,
		'data-cx-track'    => true,
	);
	$tags   = array( 'div', 'section', 'p', 'span', 'strong', 'em', 'ol', 'ul', 'li', 'h2', 'h3', 'h4', 'legend', 'fieldset', 'small', 'br' );
	$html   = array();
	foreach ( $tags as $tag ) {
		$html[ $tag ] = $common;
	}
	$html['time']     = $common + array( 'datetime' => true );
	$html['a']        = $common + array(
		'href'   => true,
		'target' => true,
		'rel'    => true,
	);
	$html['form']     = $common + array(
		'method'         => true,
		'action'         => true,
		'data-cx-form'   => true,
		'data-cx-action' => true,
	);
	$html['img']      = $common + array(
		'src'      => true,
		'alt'      => true,
		'width'    => true,
		'height'   => true,
		'loading'  => true,
		'decoding' => true,
	);
	$html['label']    = $common + array( 'for' => true );
	$html['input']    = $common + array(
		'type'         => true,
		'name'         => true,
		'value'        => true,
		'required'     => true,
		'checked'      => true,
		'autocomplete' => true,
		'maxlength'    => true,
		'min'          => true,
		'max'          => true,
	);
	$html['textarea'] = $common + array(
		'name'      => true,
		'rows'      => true,
		'maxlength' => true,
	);
	$html['button']   = $common + array(
		'type'  => true,
		'name'  => true,
		'value' => true,
	);
	return $html;
}

/**
 * The language the collector should answer in: German for de_* locales, else English.
 *
 * @param string $wp_locale WordPress locale (de_DE, de_DE_formal, en_US …).
 * @return string
 */
function cx_wc_locale( $wp_locale ) {
	return 0 === stripos( (string) $wp_locale, 'de' ) ? 'de' : 'en';
}
