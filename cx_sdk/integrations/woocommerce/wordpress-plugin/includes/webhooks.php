<?php
/**
 * The WooCommerce webhooks that deliver to the collector: created on activation (or as soon
 * as the settings are complete), recreated when the URL, shop or secret change, removed on
 * deactivation.
 *
 * @package CX_WooCommerce
 */

defined( 'ABSPATH' ) || exit;

/**
 * Register the hooks.
 */
function cx_wc_webhook_hooks() {
	add_action( 'update_option_' . CX_WC_OPTION, 'cx_wc_settings_changed', 10, 2 );
	add_action( 'add_option_' . CX_WC_OPTION, 'cx_wc_settings_added', 10, 2 );
}

/**
 * Activation: create the webhooks when the plugin is already configured.
 */
function cx_wc_activate() {
	if ( class_exists( 'WC_Webhook' ) ) {
		cx_wc_sync_webhooks( cx_wc_settings() );
	}
}

/**
 * Deactivation: nothing should be delivered to the collector any more.
 */
function cx_wc_deactivate() {
	cx_wc_delete_webhooks();
}

/**
 * First save of the settings.
 *
 * @param string $option Option name.
 * @param mixed  $value  New value.
 */
function cx_wc_settings_added( $option, $value ) {
	cx_wc_sync_webhooks( cx_wc_settings() );
}

/**
 * Later saves: recreate only when something the webhooks depend on changed.
 *
 * @param mixed $old Old value.
 * @param mixed $new New value.
 */
function cx_wc_settings_changed( $old, $new ) {
	$old = is_array( $old ) ? $old : array();
	$new = is_array( $new ) ? $new : array();
	foreach ( array( 'collector_url', 'shop_id', 'webhook_secret' ) as $key ) {
		if ( ( $old[ $key ] ?? '' ) !== ( $new[ $key ] ?? '' ) ) {
			cx_wc_sync_webhooks( cx_wc_settings() );
			return;
		}
	}
}

/**
 * Replace the plugin's webhooks with one active webhook per topic.
 *
 * @param array $settings Settings.
 * @return int Number of webhooks created.
 */
function cx_wc_sync_webhooks( array $settings ) {
	if ( ! class_exists( 'WC_Webhook' ) ) {
		return 0;
	}
	cx_wc_delete_webhooks();
	if ( ! cx_wc_is_configured( $settings ) || ! cx_wc_is_valid_secret( $settings['webhook_secret'] ) ) {
		return 0;
	}
	$url = cx_wc_delivery_url( $settings['collector_url'], $settings['shop_id'] );
	$ids = array();
	foreach ( cx_wc_webhook_topics() as $topic ) {
		$webhook = new WC_Webhook();
		$webhook->set_name( 'cx ' . $topic );
		$webhook->set_user_id( get_current_user_id() );
		$webhook->set_topic( $topic );
		$webhook->set_secret( $settings['webhook_secret'] );
		$webhook->set_delivery_url( $url );
		$webhook->set_api_version( 'wp_api_v3' );
		$webhook->set_status( 'active' );
		$ids[ $topic ] = $webhook->save();
		if ( 1 === count( $ids ) ) {
			// WooCommerce's own creation ping: proves the collector is reachable and knows the shop.
			$ping = $webhook->deliver_ping();
			if ( is_wp_error( $ping ) ) {
				set_transient( 'cx_wc_notice_' . get_current_user_id(), array( 'error', $ping->get_error_message() ), MINUTE_IN_SECONDS );
			}
		}
	}
	update_option( CX_WC_WEBHOOKS_OPTION, $ids, false );
	return count( $ids );
}

/**
 * Delete the webhooks this plugin created (never anyone else's).
 */
function cx_wc_delete_webhooks() {
	$ids = get_option( CX_WC_WEBHOOKS_OPTION, array() );
	if ( is_array( $ids ) && function_exists( 'wc_get_webhook' ) ) {
		foreach ( $ids as $id ) {
			$webhook = wc_get_webhook( (int) $id );
			if ( $webhook ) {
				$webhook->delete( true );
			}
		}
	}
	delete_option( CX_WC_WEBHOOKS_OPTION );
}

/**
 * Topic → status line for the settings page.
 *
 * @return array<string,string>
 */
function cx_wc_webhook_status() {
	$ids    = get_option( CX_WC_WEBHOOKS_OPTION, array() );
	$status = array();
	foreach ( cx_wc_webhook_topics() as $topic ) {
		$webhook = ( is_array( $ids ) && isset( $ids[ $topic ] ) && function_exists( 'wc_get_webhook' ) ) ? wc_get_webhook( (int) $ids[ $topic ] ) : null;
		if ( ! $webhook ) {
			$status[ $topic ] = __( 'not created (complete the settings)', 'cx-woocommerce' );
		} elseif ( 'active' !== $webhook->get_status() ) {
			/* translators: %s: webhook status such as "disabled" */
			$status[ $topic ] = sprintf( __( '%s – WooCommerce stopped it after failed deliveries; save the settings to recreate it', 'cx-woocommerce' ), $webhook->get_status() );
		} else {
			$status[ $topic ] = __( 'active', 'cx-woocommerce' );
		}
	}
	return $status;
}
