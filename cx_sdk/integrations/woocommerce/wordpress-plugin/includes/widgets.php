<?php
/**
 * The cx widgets in the shop: fragments fetched server-side from the collector, cached with
 * transients when they are the same for everyone, never when they show a shopper's order.
 *
 * @package CX_WooCommerce
 */

defined( 'ABSPATH' ) || exit;

/**
 * Register shortcodes and storefront hooks.
 */
function cx_wc_widget_hooks() {
	add_shortcode( 'cx_tracking', 'cx_wc_shortcode_tracking' );
	add_shortcode( 'cx_recommendations', 'cx_wc_shortcode_recommendations' );
	add_shortcode( 'cx_survey', 'cx_wc_shortcode_survey' );
	add_action( 'woocommerce_thankyou', 'cx_wc_thankyou', 20 );
	add_action( 'woocommerce_view_order', 'cx_wc_view_order', 20 );
	add_action( 'woocommerce_after_single_product_summary', 'cx_wc_product_recommendations', 25 );
	add_action( 'wp_footer', 'cx_wc_chat_launcher' );
}

/**
 * Seconds a shared fragment is reused (filter ``cx_wc_fragment_ttl``).
 *
 * @param string $widget Widget name.
 * @return int
 */
function cx_wc_fragment_ttl( $widget ) {
	return (int) apply_filters( 'cx_wc_fragment_ttl', 5 * MINUTE_IN_SECONDS, $widget );
}

/**
 * A widget's HTML ('' when switched off, unknown, unconfigured or unreachable).
 *
 * @param string $widget Widget name.
 * @param array  $params Query parameters (order, email, product …).
 * @return string Sanitised HTML inside its placeholder, or ''.
 */
function cx_wc_widget( $widget, array $params = array() ) {
	$settings = cx_wc_settings();
	if ( ! cx_wc_is_configured( $settings ) ) {
		return '';
	}
	$params['locale'] = cx_wc_locale( determine_locale() );
	$personal         = cx_wc_is_personal( $widget, $params );
	$key              = cx_wc_cache_key( $settings['shop_id'], $widget, $params );
	$cached           = $personal ? false : get_transient( $key );
	if ( is_array( $cached ) && isset( $cached['html'] ) ) {
		$html = (string) $cached['html'];
	} else {
		$url      = cx_wc_fragment_url( $settings['collector_url'], $settings['shop_id'], $widget, $params );
		$response = wp_remote_get(
			$url,
			array(
				'timeout'     => 3,
				'redirection' => 0,
				'headers'     => array( 'Accept-Language' => $params['locale'] ),
			)
		);
		$status   = is_wp_error( $response ) ? 0 : (int) wp_remote_retrieve_response_code( $response );
		$html     = cx_wc_fragment_from_response( $status, is_wp_error( $response ) ? '' : wp_remote_retrieve_body( $response ) );
		if ( ! $personal ) {
			// A failure is remembered briefly too, so a collector outage does not slow every page.
			$ttl = ( 200 === $status || 204 === $status ) ? cx_wc_fragment_ttl( $widget ) : MINUTE_IN_SECONDS;
			set_transient( $key, array( 'html' => $html ), $ttl );
		}
	}
	if ( '' === $html ) {
		return '';
	}
	cx_wc_enqueue_assets( $settings );
	$public = $personal ? array() : array_diff_key( $params, array( 'email' => true ) );
	return cx_wc_placeholder( $settings['shop_id'], $widget, $public, cx_wc_mark_ready( wp_kses( $html, cx_wc_allowed_html() ) ) );
}

/**
 * The collector's stylesheet and loader (forms, click reports); only on pages with a widget.
 *
 * @param array $settings Settings.
 */
function cx_wc_enqueue_assets( array $settings ) {
	$base = rtrim( $settings['collector_url'], '/' ) . '/widgets/' . rawurlencode( $settings['shop_id'] );
	wp_enqueue_style( 'cx-wc-widgets', $base . '/widgets.css', array(), CX_WC_VERSION );
	wp_enqueue_script(
		'cx-wc-loader',
		$base . '/loader.js',
		array(),
		CX_WC_VERSION,
		array(
			'in_footer' => true,
			'strategy'  => 'defer',
		)
	);
}

/**
 * The order number and billing email the tracking lookup needs.
 *
 * @param WC_Order $order Order.
 * @return array
 */
function cx_wc_order_params( $order ) {
	return array(
		'order' => (string) $order->get_order_number(),
		'email' => (string) $order->get_billing_email(),
	);
}

/**
 * True when the visitor may see this order: its logged-in owner, or the guest holding the
 * order key WooCommerce put in the order-received URL.
 *
 * @param WC_Order $order Order.
 * @return bool
 */
function cx_wc_may_view_order( $order ) {
	if ( ! $order ) {
		return false;
	}
	$owner = (int) $order->get_customer_id();
	if ( $owner > 0 ) {
		return is_user_logged_in() && get_current_user_id() === $owner;
	}
	// phpcs:ignore WordPress.Security.NonceVerification.Recommended -- the order key is the guest's proof, as in WooCommerce itself.
	$key = isset( $_GET['key'] ) ? wc_clean( wp_unslash( $_GET['key'] ) ) : '';
	return '' !== $key && hash_equals( $order->get_order_key(), $key );
}

/**
 * [cx_tracking] – the lookup form, or an order when order="…" belongs to the visitor.
 *
 * @param array|string $atts Shortcode attributes.
 * @return string
 */
function cx_wc_shortcode_tracking( $atts ) {
	$atts = shortcode_atts( array( 'order' => '' ), $atts, 'cx_tracking' );
	if ( '' !== $atts['order'] ) {
		$order = wc_get_order( absint( $atts['order'] ) );
		if ( $order && cx_wc_may_view_order( $order ) ) {
			return cx_wc_widget( 'tracking', cx_wc_order_params( $order ) );
		}
	}
	return cx_wc_widget( 'tracking' );
}

/**
 * [cx_recommendations product="…"] – defaults to the product on screen.
 *
 * @param array|string $atts Shortcode attributes.
 * @return string
 */
function cx_wc_shortcode_recommendations( $atts ) {
	$atts    = shortcode_atts( array( 'product' => '' ), $atts, 'cx_recommendations' );
	$product = '' !== $atts['product'] ? absint( $atts['product'] ) : ( is_singular( 'product' ) ? get_the_ID() : 0 );
	return cx_wc_widget( 'recommendations', $product ? array( 'product' => (string) $product ) : array() );
}

/**
 * [cx_survey order="…"] – about an order of the visitor, or a general one.
 *
 * @param array|string $atts Shortcode attributes.
 * @return string
 */
function cx_wc_shortcode_survey( $atts ) {
	$atts = shortcode_atts( array( 'order' => '' ), $atts, 'cx_survey' );
	if ( '' !== $atts['order'] ) {
		$order = wc_get_order( absint( $atts['order'] ) );
		if ( $order && cx_wc_may_view_order( $order ) ) {
			return cx_wc_widget( 'survey', cx_wc_order_params( $order ) );
		}
	}
	return cx_wc_widget( 'survey' );
}

/**
 * Thank-you page: the order's tracking and the post-purchase survey.
 *
 * @param int $order_id Order id.
 */
function cx_wc_thankyou( $order_id ) {
	$order = wc_get_order( $order_id );
	if ( ! $order || ! cx_wc_may_view_order( $order ) ) {
		return;
	}
	$params = cx_wc_order_params( $order );
	echo cx_wc_widget( 'tracking', $params ); // phpcs:ignore WordPress.Security.EscapeOutput.OutputNotEscaped -- wp_kses'd in cx_wc_widget().
	echo cx_wc_widget( 'survey', $params ); // phpcs:ignore WordPress.Security.EscapeOutput.OutputNotEscaped -- wp_kses'd in cx_wc_widget().
}

/**
 * My account › order: tracking, for the logged-in owner only.
 *
 * @param int $order_id Order id.
 */
function cx_wc_view_order( $order_id ) {
	$order = wc_get_order( $order_id );
	if ( ! $order || ! is_user_logged_in() || (int) $order->get_customer_id() !== get_current_user_id() ) {
		return;
	}
	echo cx_wc_widget( 'tracking', cx_wc_order_params( $order ) ); // phpcs:ignore WordPress.Security.EscapeOutput.OutputNotEscaped -- wp_kses'd in cx_wc_widget().
}

/**
 * Product page: recommendations for this product (shared, cached).
 */
function cx_wc_product_recommendations() {
	$product_id = get_the_ID();
	if ( ! $product_id ) {
		return;
	}
	echo cx_wc_widget( 'recommendations', array( 'product' => (string) $product_id ) ); // phpcs:ignore WordPress.Security.EscapeOutput.OutputNotEscaped -- wp_kses'd in cx_wc_widget().
}

/**
 * The chat launcher on every storefront page (shared, cached).
 */
function cx_wc_chat_launcher() {
	if ( is_admin() ) {
		return;
	}
	echo cx_wc_widget( 'chat' ); // phpcs:ignore WordPress.Security.EscapeOutput.OutputNotEscaped -- wp_kses'd in cx_wc_widget().
}
