<?php
/**
 * Uninstall: remove the plugin's webhooks, options and cached fragments.
 *
 * @package CX_WooCommerce
 */

defined( 'WP_UNINSTALL_PLUGIN' ) || exit;

$cx_wc_ids = get_option( 'cx_wc_webhook_ids', array() );
if ( is_array( $cx_wc_ids ) && function_exists( 'wc_get_webhook' ) ) {
	foreach ( $cx_wc_ids as $cx_wc_id ) {
		$cx_wc_webhook = wc_get_webhook( (int) $cx_wc_id );
		if ( $cx_wc_webhook ) {
			$cx_wc_webhook->delete( true );
		}
	}
}
delete_option( 'cx_wc_webhook_ids' );
delete_option( 'cx_wc_settings' );
delete_transient( 'cx_wc_show_secret' );

// Fragment transients have hashed names; remove them by prefix.
global $wpdb;
// phpcs:ignore WordPress.DB.DirectDatabaseQuery.DirectQuery, WordPress.DB.DirectDatabaseQuery.NoCaching -- one-off cleanup.
$wpdb->query(
	$wpdb->prepare(
		"DELETE FROM {$wpdb->options} WHERE option_name LIKE %s OR option_name LIKE %s OR option_name LIKE %s",
		$wpdb->esc_like( '_transient_cx_wc_' ) . '%',
		$wpdb->esc_like( '_transient_timeout_cx_wc_' ) . '%',
		$wpdb->esc_like( '_site_transient_cx_wc_' ) . '%'
	)
);
