<?php
/**
 * The settings page: collector URL, shop id, write key, webhook secret, test connection.
 *
 * @package CX_WooCommerce
 */

defined( 'ABSPATH' ) || exit;

/**
 * The saved settings with defaults.
 *
 * @return array{collector_url:string,shop_id:string,write_key:string,webhook_secret:string}
 */
function cx_wc_settings() {
	$saved = get_option( CX_WC_OPTION, array() );
	return wp_parse_args(
		is_array( $saved ) ? $saved : array(),
		array(
			'collector_url'  => '',
			'shop_id'        => '',
			'write_key'      => '',
			'webhook_secret' => '',
		)
	);
}

/**
 * True when the plugin can talk to the collector.
 *
 * @param array $settings Settings.
 * @return bool
 */
function cx_wc_is_configured( array $settings ) {
	return '' !== $settings['collector_url'] && '' !== $settings['shop_id'];
}

/**
 * Register the admin hooks.
 */
function cx_wc_settings_hooks() {
	add_action( 'admin_menu', 'cx_wc_add_settings_page' );
	add_action( 'admin_init', 'cx_wc_register_settings' );
	add_action( 'admin_post_cx_wc_test_connection', 'cx_wc_test_connection' );
	add_action( 'admin_notices', 'cx_wc_admin_notices' );
}

/**
 * The page under WooCommerce.
 */
function cx_wc_add_settings_page() {
	add_submenu_page(
		'woocommerce',
		__( 'cx Customer Experience', 'cx-woocommerce' ),
		__( 'cx', 'cx-woocommerce' ),
		'manage_woocommerce',
		'cx-woocommerce',
		'cx_wc_render_settings_page'
	);
}

/**
 * Settings API registration (the form's nonce comes from settings_fields()).
 */
function cx_wc_register_settings() {
	register_setting(
		'cx_wc',
		CX_WC_OPTION,
		array(
			'type'              => 'array',
			'sanitize_callback' => 'cx_wc_sanitize_settings',
			'default'           => array(),
		)
	);
}

/**
 * Validate what the merchant entered; errors are shown, the previous value is kept.
 *
 * @param mixed $input Submitted values.
 * @return array
 */
function cx_wc_sanitize_settings( $input ) {
	$old   = cx_wc_settings();
	$input = is_array( $input ) ? wp_unslash( $input ) : array();
	$clean = $old;

	$url = cx_wc_normalize_collector_url( isset( $input['collector_url'] ) ? (string) $input['collector_url'] : '' );
	if ( '' === $url && ! empty( $input['collector_url'] ) ) {
		add_settings_error( CX_WC_OPTION, 'cx_wc_url', __( 'The collector URL must start with https:// (http:// only for localhost).', 'cx-woocommerce' ) );
	} else {
		$clean['collector_url'] = $url;
	}

	$shop_id = isset( $input['shop_id'] ) ? trim( (string) $input['shop_id'] ) : '';
	if ( '' !== $shop_id && ! cx_wc_is_valid_shop_id( $shop_id ) ) {
		add_settings_error( CX_WC_OPTION, 'cx_wc_shop', __( 'The shop id may only contain letters, digits, "_" and "-".', 'cx-woocommerce' ) );
	} else {
		$clean['shop_id'] = $shop_id;
	}

	// Empty secret fields keep the stored value: secrets are never printed back into the form.
	$write_key = isset( $input['write_key'] ) ? trim( (string) $input['write_key'] ) : '';
	if ( '' !== $write_key ) {
		$clean['write_key'] = sanitize_text_field( $write_key );
	}
	$secret = isset( $input['webhook_secret'] ) ? trim( (string) $input['webhook_secret'] ) : '';
	if ( '' !== $secret ) {
		if ( cx_wc_is_valid_secret( $secret ) ) {
			$clean['webhook_secret'] = $secret;
		} else {
			add_settings_error( CX_WC_OPTION, 'cx_wc_secret', __( 'The webhook secret must be at least 32 letters and digits (other characters break WooCommerce signatures).', 'cx-woocommerce' ) );
		}
	}
	if ( '' === $clean['webhook_secret'] ) {
		$clean['webhook_secret'] = cx_wc_generate_secret();
		set_transient( 'cx_wc_show_secret', 1, 10 * MINUTE_IN_SECONDS );
	}
	return $clean;
}

/**
 * Render the settings page.
 */
function cx_wc_render_settings_page() {
	if ( ! current_user_can( 'manage_woocommerce' ) ) {
		return;
	}
	$settings = cx_wc_settings();
	$show     = get_transient( 'cx_wc_show_secret' );
	?>
	<div class="wrap">
		<h1><?php esc_html_e( 'cx Customer Experience', 'cx-woocommerce' ); ?></h1>
		<p><?php esc_html_e( 'Connect this shop to your cx collector: orders, refunds and shipments are sent as journey events and the cx widgets appear in the shop.', 'cx-woocommerce' ); ?></p>
		<form method="post" action="<?php echo esc_url( admin_url( 'options.php' ) ); ?>">
			<?php settings_fields( 'cx_wc' ); ?>
			<table class="form-table" role="presentation">
				<tr>
					<th scope="row"><label for="cx_wc_collector_url"><?php esc_html_e( 'Collector URL', 'cx-woocommerce' ); ?></label></th>
					<td><input type="url" class="regular-text" id="cx_wc_collector_url" name="<?php echo esc_attr( CX_WC_OPTION ); ?>[collector_url]" value="<?php echo esc_attr( $settings['collector_url'] ); ?>" placeholder="https://cx.example.com" /></td>
				</tr>
				<tr>
					<th scope="row"><label for="cx_wc_shop_id"><?php esc_html_e( 'Shop id', 'cx-woocommerce' ); ?></label></th>
					<td><input type="text" class="regular-text" id="cx_wc_shop_id" name="<?php echo esc_attr( CX_WC_OPTION ); ?>[shop_id]" value="<?php echo esc_attr( $settings['shop_id'] ); ?>" /></td>
				</tr>
				<tr>
					<th scope="row"><label for="cx_wc_write_key"><?php esc_html_e( 'Write key', 'cx-woocommerce' ); ?></label></th>
					<td>
						<input type="password" class="regular-text" id="cx_wc_write_key" name="<?php echo esc_attr( CX_WC_OPTION ); ?>[write_key]" value="" autocomplete="off" />
						<p class="description"><?php echo esc_html( '' !== $settings['write_key'] ? __( 'Saved. Leave empty to keep it.', 'cx-woocommerce' ) : __( 'Not set yet.', 'cx-woocommerce' ) ); ?></p>
					</td>
				</tr>
				<tr>
					<th scope="row"><label for="cx_wc_webhook_secret"><?php esc_html_e( 'Webhook secret', 'cx-woocommerce' ); ?></label></th>
					<td>
						<input type="password" class="regular-text" id="cx_wc_webhook_secret" name="<?php echo esc_attr( CX_WC_OPTION ); ?>[webhook_secret]" value="" autocomplete="off" />
						<p class="description"><?php esc_html_e( 'The secret printed by "cx shops create" (letters and digits). Leave empty to keep the saved one; if none is saved, one is generated.', 'cx-woocommerce' ); ?></p>
						<?php if ( $show && '' !== $settings['webhook_secret'] ) : ?>
							<p><strong><?php esc_html_e( 'A secret was generated. Register it with the collector once:', 'cx-woocommerce' ); ?></strong></p>
							<code>cx woocommerce secret --shop <?php echo esc_html( $settings['shop_id'] ); ?> --set <?php echo esc_html( $settings['webhook_secret'] ); ?></code>
							<?php delete_transient( 'cx_wc_show_secret' ); ?>
						<?php endif; ?>
					</td>
				</tr>
			</table>
			<?php submit_button(); ?>
		</form>

		<h2><?php esc_html_e( 'Connection', 'cx-woocommerce' ); ?></h2>
		<form method="post" action="<?php echo esc_url( admin_url( 'admin-post.php' ) ); ?>">
			<input type="hidden" name="action" value="cx_wc_test_connection" />
			<?php wp_nonce_field( 'cx_wc_test_connection' ); ?>
			<?php submit_button( __( 'Test connection', 'cx-woocommerce' ), 'secondary', 'submit', false ); ?>
		</form>

		<h2><?php esc_html_e( 'Webhooks', 'cx-woocommerce' ); ?></h2>
		<ul>
			<?php foreach ( cx_wc_webhook_status() as $topic => $status ) : ?>
				<li><code><?php echo esc_html( $topic ); ?></code> – <?php echo esc_html( $status ); ?></li>
			<?php endforeach; ?>
		</ul>
	</div>
	<?php
}

/**
 * The test-connection button: an empty batch with the write key. 200 means URL, shop and key
 * fit together; the answer is shown as a notice after the redirect.
 */
function cx_wc_test_connection() {
	if ( ! current_user_can( 'manage_woocommerce' ) ) {
		wp_die( esc_html__( 'You are not allowed to do this.', 'cx-woocommerce' ), '', array( 'response' => 403 ) );
	}
	check_admin_referer( 'cx_wc_test_connection' );
	$settings = cx_wc_settings();
	if ( ! cx_wc_is_configured( $settings ) || '' === $settings['write_key'] ) {
		$result = array( 'error', __( 'Enter the collector URL, the shop id and the write key first.', 'cx-woocommerce' ) );
	} else {
		$response = wp_remote_post(
			rtrim( $settings['collector_url'], '/' ) . '/v1/batch',
			array(
				'timeout' => 5,
				'headers' => array(
					'Authorization' => cx_wc_basic_auth( $settings['write_key'] ),
					'Content-Type'  => 'application/json',
				),
				'body'    => wp_json_encode( array( 'batch' => array() ) ),
			)
		);
		$code = is_wp_error( $response ) ? 0 : (int) wp_remote_retrieve_response_code( $response );
		if ( 200 === $code ) {
			$result = array( 'success', __( 'Connected: the collector accepted the write key.', 'cx-woocommerce' ) );
		} elseif ( 401 === $code ) {
			$result = array( 'error', __( 'The collector refused the write key.', 'cx-woocommerce' ) );
		} elseif ( 0 === $code ) {
			/* translators: %s: error message */
			$result = array( 'error', sprintf( __( 'The collector cannot be reached: %s', 'cx-woocommerce' ), $response->get_error_message() ) );
		} else {
			/* translators: %d: HTTP status code */
			$result = array( 'error', sprintf( __( 'The collector answered with HTTP %d.', 'cx-woocommerce' ), $code ) );
		}
	}
	set_transient( 'cx_wc_notice_' . get_current_user_id(), $result, MINUTE_IN_SECONDS );
	wp_safe_redirect( admin_url( 'admin.php?page=cx-woocommerce' ) );
	exit;
}

/**
 * Show the result of the last connection test once.
 */
function cx_wc_admin_notices() {
	$key    = 'cx_wc_notice_' . get_current_user_id();
	$notice = get_transient( $key );
	if ( ! is_array( $notice ) || 2 !== count( $notice ) ) {
		return;
	}
	delete_transient( $key );
	$class = 'success' === $notice[0] ? 'notice-success' : 'notice-error';
	printf( '<div class="notice %1$s is-dismissible"><p>%2$s</p></div>', esc_attr( $class ), esc_html( $notice[1] ) );
}
